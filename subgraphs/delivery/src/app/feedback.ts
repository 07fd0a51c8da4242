// What delivery does with what it hears back (DSN/ARF on the inbound SMTP endpoint, provider
// webhooks): hard bounces and complaints suppress the address before the next send, soft bounces
// are counted and the message retried, deliveries and unsubscribes are recorded — each with its
// event, in one transaction.
import { catalogue, createEvent, type EventEnvelope } from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, desc, eq, gt, sql } from 'drizzle-orm';
import { messageEvents, messages, outbox } from '../db/schema.ts';
import { MAX_ATTEMPTS, retryDelayMs } from '../domain/policy.ts';
import type { Feedback } from '../inbound/feedback.ts';
import type { DeliveryDeps } from './deps.ts';
import { type MessageRow, messageFacts } from './send.ts';
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
    const org = message.organizationId;
    const facts = messageFacts(message);
    const base = { organizationId: org, subjectId: message.contactId ?? message.id, correlationId: message.id };
    const events: EventEnvelope[] = [];
    const channel = message.channel === 'sms' ? 'sms' : 'email';
    const suppressible = message.channel === 'email' || message.channel === 'sms';
    const detail = feedback.kind === 'bounce' ? [feedback.status, feedback.diagnostic].filter(Boolean).join(' ') : null;

    await tx.insert(messageEvents).values({
      organizationId: org,
      messageId: message.id,
      type: feedback.kind === 'bounce' ? `bounce.${feedback.bounceType}` : feedback.kind,
      detail: detail || (feedback.kind === 'complaint' ? feedback.feedbackType : scope.source),
      occurredAt: now,
    });

    switch (feedback.kind) {
      case 'bounce': {
        if (feedback.bounceType === 'delayed') break;
        const hard = feedback.bounceType === 'hard';
        if (hard && suppressible)
          await suppressInTx(tx, org, {
            channel,
            address: message.address,
            reason: 'hard_bounce',
            source: scope.source,
          });
        const retry = !hard && message.attempts < MAX_ATTEMPTS;
        await tx
          .update(messages)
          .set(
            retry
              ? { status: 'queued', notBefore: new Date(now.getTime() + retryDelayMs(message.attempts)), error: detail }
              : { status: 'bounced', bouncedAt: now, error: detail },
          )
          .where(eq(messages.id, message.id));
        events.push(
          createEvent(catalogue.delivery.messageBounced, {
            ...base,
            data: { ...facts, bounceType: hard ? 'hard' : 'soft', reason: (detail || 'bounced').slice(0, 1000) },
          }),
        );
        break;
      }
      case 'complaint':
        if (suppressible)
          await suppressInTx(tx, org, { channel, address: message.address, reason: 'complaint', source: scope.source });
        await tx.update(messages).set({ status: 'complained', complainedAt: now }).where(eq(messages.id, message.id));
        events.push(
          createEvent(catalogue.delivery.messageComplained, {
            ...base,
            data: { ...facts, feedbackType: feedback.feedbackType.slice(0, 100) },
          }),
        );
        break;
      case 'delivered':
        await tx
          .update(messages)
          .set({
            deliveredAt: now,
            status: sql`case when ${messages.status} = 'sent' then 'delivered' else ${messages.status} end`,
          })
          .where(eq(messages.id, message.id));
        events.push(createEvent(catalogue.delivery.messageDelivered, { ...base, data: facts }));
        break;
      case 'unsubscribe':
        if (suppressible)
          await suppressInTx(tx, org, {
            channel,
            address: message.address,
            reason: 'unsubscribe',
            source: scope.source,
          });
        events.push(
          createEvent(catalogue.delivery.messageUnsubscribed, { ...base, data: { ...facts, oneClick: false } }),
        );
        break;
    }
    await appendEvents(tx, outbox, events);
    return 'applied';
  });
}
