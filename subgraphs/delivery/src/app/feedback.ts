// What delivery does with what it hears back (DSN/ARF on the inbound SMTP endpoint, provider
// webhooks): hard bounces and complaints suppress the address before the next send, soft bounces
// are counted and the message retried, deliveries and unsubscribes are recorded — each with its
// event, in one transaction.
import { catalogue, createEvent, type EventEnvelope } from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, desc, eq, gt, sql } from 'drizzle-orm';
import { messageEvents, messages, outbox } from '../db/schema.ts';
import { BOUNCE_EFFECTS, type BounceReason, countsAgainstSender } from '../domain/bounce.ts';
import { MAX_ATTEMPTS, retryDelayMs } from '../domain/policy.ts';
import { PENALTIES, type PenaltyKind } from '../domain/warmup.ts';
import type { BounceType, Feedback } from '../inbound/feedback.ts';
import type { DeliveryDeps } from './deps.ts';
import { type MessageRow, messageFacts } from './send.ts';
import { recordPenalties } from './sending-ips.ts';
import { suppressInTx } from './suppressions.ts';

const RECENT_MS = 14 * 24 * 3600_000;

/** The message a report is about: by our id, else the latest sent to the recipient lately. */
async function findMessage(
  tx: Executor,
  feedback: Feedback,
  scope: { organizationId?: string | undefined },
  now: Date,
): Promise<MessageRow | undefined> {
  if (feedback.messageId) {
    const [row] = await tx
      .select()
      .from(messages)
      .where(
        scope.organizationId
          ? and(eq(messages.id, feedback.messageId), eq(messages.organizationId, scope.organizationId))
          : eq(messages.id, feedback.messageId),
      );
    // We send one message per recipient: a report naming our id for another address (the other
    // recipients of a multi-recipient DSN, a forged report) is not about this message.
    if (row && (!feedback.recipient || sameAddress(row, feedback.recipient))) return row;
  }
  // Without our id, only a report to an organization's own (signed) webhook may be matched by
  // its recipient: an unsigned bounce mail naming an address must not suppress it in whichever
  // organization wrote to it last.
  if (!feedback.recipient || !scope.organizationId) return undefined;
  const [row] = await tx
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.address, feedback.recipient.toLowerCase()),
        gt(messages.sentAt, new Date(now.getTime() - RECENT_MS)),
        eq(messages.organizationId, scope.organizationId),
      ),
    )
    .orderBy(desc(messages.sentAt))
    .limit(1);
  return row;
}

function sameAddress(message: MessageRow, recipient: string): boolean {
  return message.channel === 'email'
    ? message.address.toLowerCase() === recipient.toLowerCase()
    : message.address === recipient;
}

export type FeedbackOutcome = 'applied' | 'unknown_message';

/**
 * Applies one report. `organizationId` is set when the report came to an organization's own
 * webhook; inbound SMTP reports find it through the message.
 */
export async function applyFeedback(
  deps: DeliveryDeps,
  feedback: Feedback,
  scope: { organizationId?: string; source: string },
): Promise<FeedbackOutcome> {
  const now = deps.now();
  return deps.handle.db.transaction(async (tx) => {
    const message = await findMessage(tx, feedback, scope, now);
    if (!message) return 'unknown_message';
    const report: Report = { tx, message, source: scope.source, now, detail: detailOf(feedback) };
    await recordReport(report, feedback);
    const event = await applyReport(report, feedback);
    if (event) await appendEvents(tx, outbox, [event]);
    await penalizeSender(deps, report, feedback);
    return 'applied';
  });
}

/** A report about one of our messages, as the steps below apply it. */
interface Report {
  tx: Executor;
  message: MessageRow;
  /** Where it came from: `inbound-smtp` or `webhook:<kind>`. */
  source: string;
  now: Date;
  /** A bounce's status and diagnostic; null for other reports. */
  detail: string | null;
}

/** A bounce's reason, status and diagnostic, in that order: the reason leads what a person reads. */
const detailOf = (feedback: Feedback) =>
  feedback.kind === 'bounce'
    ? [feedback.reason ?? 'unknown', feedback.status, feedback.diagnostic].filter(Boolean).join(' ')
    : null;

/** Every report goes into the message's history, a delayed bounce too. */
async function recordReport({ tx, message, source, now, detail }: Report, feedback: Feedback) {
  await tx.insert(messageEvents).values({
    organizationId: message.organizationId,
    messageId: message.id,
    type: feedback.kind === 'bounce' ? `bounce.${feedback.bounceType}` : feedback.kind,
    detail: detail || (feedback.kind === 'complaint' ? feedback.feedbackType : source),
    occurredAt: now,
  });
}

/** Changes the message (and the suppression list) as the report says; returns its event. */
function applyReport(report: Report, feedback: Feedback): Promise<EventEnvelope | null> {
  switch (feedback.kind) {
    case 'bounce':
      return applyBounce(report, feedback.bounceType, feedback.reason ?? 'unknown');
    case 'complaint':
      return applyComplaint(report, feedback.feedbackType);
    case 'delivered':
      return markDelivered(report);
    case 'unsubscribe':
      return applyUnsubscribe(report);
  }
}

/** What a report counts against the IP and sending domain the message left from. */
function penaltyOf(feedback: Feedback): PenaltyKind | null {
  if (feedback.kind === 'complaint') return 'complaint';
  if (feedback.kind !== 'bounce') return null;
  if (feedback.bounceType === 'delayed') return 'deferral';
  const reason = feedback.reason ?? 'unknown';
  if (!countsAgainstSender(reason)) return null;
  return reason === 'blocklisted_reputation' ? 'reputation_bounce' : 'policy_bounce';
}

async function penalizeSender(deps: DeliveryDeps, { tx, message, now }: Report, feedback: Feedback) {
  const penalty = penaltyOf(feedback);
  if (!penalty) return;
  const subjects = [
    ['ip', message.sendingIp],
    ['domain', message.sendingDomain],
  ] as const;
  await recordPenalties(
    deps.handle,
    subjects.flatMap(([kind, subject]) =>
      subject ? [{ organization_id: message.organizationId, kind, subject, points: PENALTIES[penalty] }] : [],
    ),
    now,
    tx,
  );
}

const eventBase = (message: MessageRow) => ({
  organizationId: message.organizationId,
  subjectId: message.contactId ?? message.id,
  correlationId: message.id,
});

/** Only email and SMS addresses have a suppression list. */
async function suppress({ tx, message, source }: Report, reason: 'hard_bounce' | 'complaint' | 'unsubscribe') {
  if (message.channel !== 'email' && message.channel !== 'sms') return;
  await suppressInTx(
    tx,
    message.organizationId,
    { channel: message.channel, address: message.address, reason, source },
    { correlationId: message.id, messageId: message.id },
  );
}

/**
 * A hard bounce (a dead address) suppresses it. Other bounces are retried while attempts remain
 * when trying again can pass (the recipient's side was temporarily unable, or we went too fast);
 * a rejection caused by the sender (authentication, reputation, content) fails the same way
 * every time, so the message ends bounced at once, and the address stays good.
 */
async function applyBounce(
  report: Report,
  bounceType: BounceType,
  reason: BounceReason,
): Promise<EventEnvelope | null> {
  if (bounceType === 'delayed') return null;
  const { tx, message, now, detail } = report;
  const hard = bounceType === 'hard';
  if (hard) await suppress(report, 'hard_bounce');
  const mayPass = (BOUNCE_EFFECTS[reason] === 'transient' && reason !== 'expired') || reason === 'rate_limited';
  const retry = !hard && mayPass && message.attempts < MAX_ATTEMPTS;
  await tx
    .update(messages)
    .set(
      retry
        ? {
            status: 'queued',
            notBefore: new Date(now.getTime() + retryDelayMs(message.attempts)),
            error: detail,
            bounceReason: reason,
          }
        : { status: 'bounced', bouncedAt: now, error: detail, bounceReason: reason },
    )
    .where(eq(messages.id, message.id));
  return createEvent(catalogue.delivery.messageBounced, {
    ...eventBase(message),
    data: {
      ...messageFacts(message),
      bounceType: hard ? 'hard' : 'soft',
      bounceReason: reason,
      reason: (detail || 'bounced').slice(0, 1000),
    },
  });
}

async function applyComplaint(report: Report, feedbackType: string): Promise<EventEnvelope> {
  const { tx, message, now } = report;
  await suppress(report, 'complaint');
  await tx.update(messages).set({ status: 'complained', complainedAt: now }).where(eq(messages.id, message.id));
  return createEvent(catalogue.delivery.messageComplained, {
    ...eventBase(message),
    data: { ...messageFacts(message), feedbackType: feedbackType.slice(0, 100) },
  });
}

/** Delivered keeps a later status (opened, clicked) and only records when. */
async function markDelivered({ tx, message, now }: Report): Promise<EventEnvelope> {
  await tx
    .update(messages)
    .set({
      deliveredAt: now,
      status: sql`case when ${messages.status} = 'sent' then 'delivered' else ${messages.status} end`,
    })
    .where(eq(messages.id, message.id));
  return createEvent(catalogue.delivery.messageDelivered, { ...eventBase(message), data: messageFacts(message) });
}

async function applyUnsubscribe(report: Report): Promise<EventEnvelope> {
  await suppress(report, 'unsubscribe');
  return createEvent(catalogue.delivery.messageUnsubscribed, {
    ...eventBase(report.message),
    data: { ...messageFacts(report.message), oneClick: false },
  });
}
