// Opens, clicks and unsubscribes, as recipients' mail clients reach the public endpoints. Every
// token is HMAC-signed and names its organization and message; a click resolves its link by index
// from the message's template, so the target is never read from the request.
import { catalogue, createEvent, type EventEnvelope } from '@mauntic/kernel';
import { appendEvents } from '@mauntic/platform';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { contacts, messageEvents, messages, outbox, suppressions, templates } from '../db/schema.ts';
import { addUtm, type CompiledEmailTemplate, resolveLink, type UtmValues } from '../domain/templates/index.ts';
import { classifyMachineEvent, type TrackingToken, verifyToken } from '../tracking/index.ts';
import type { DeliveryDeps } from './deps.ts';
import { contactVars } from './render-message.ts';
import { type MessageRow, messageFacts } from './send.ts';
import { suppressInTx, unsuppressInTx } from './suppressions.ts';

export interface Visit {
  userAgent: string | undefined;
  ip: string | undefined;
}

async function messageOf(deps: DeliveryDeps, token: TrackingToken): Promise<MessageRow | undefined> {
  const [row] = await deps.handle.db
    .select()
    .from(messages)
    .where(and(eq(messages.id, token.m), eq(messages.organizationId, token.o)));
  return row;
}

export function readToken(deps: DeliveryDeps, raw: string | null, kind: TrackingToken['k']): TrackingToken | null {
  if (!raw) return null;
  const token = verifyToken(raw, deps.trackingKey);
  return token.ok && token.value.k === kind ? token.value : null;
}

const secondsSince = (deps: DeliveryDeps, at: Date | null) =>
  at ? Math.max(0, (deps.now().getTime() - at.getTime()) / 1000) : Number.POSITIVE_INFINITY;

async function recordEngagement(
  deps: DeliveryDeps,
  message: MessageRow,
  kind: 'open' | 'click',
  visit: Visit,
  url: string | null,
): Promise<boolean> {
  const verdict = classifyMachineEvent({
    kind,
    userAgent: visit.userAgent ?? '',
    ip: visit.ip ?? '',
    secondsSinceSent: secondsSince(deps, message.sentAt),
  });
  const now = deps.now();
  const facts = messageFacts(message);
  const base = {
    organizationId: message.organizationId,
    subjectId: message.contactId ?? message.id,
    correlationId: message.id,
  };
  const event: EventEnvelope =
    kind === 'open'
      ? createEvent(catalogue.delivery.messageOpened, { ...base, data: { ...facts, machine: verdict.machine } })
      : createEvent(catalogue.delivery.messageClicked, {
          ...base,
          data: { ...facts, url: url!.slice(0, 4096), machine: verdict.machine },
        });
  // A bare Date in raw SQL is not a parameter postgres-js can bind: pass it as text, typed.
  const at = sql`${now.toISOString()}::timestamptz`;
  await deps.handle.db.transaction(async (tx) => {
    await tx.insert(messageEvents).values({
      organizationId: message.organizationId,
      messageId: message.id,
      type: kind,
      machine: verdict.machine,
      url,
      userAgent: visit.userAgent?.slice(0, 500) ?? null,
      detail: verdict.machine ? verdict.reason : null,
      occurredAt: now,
    });
    const human = !verdict.machine;
    await tx
      .update(messages)
      .set(
        kind === 'open'
          ? human
            ? {
                opens: sql`${messages.opens} + 1`,
                openedAt: sql`coalesce(${messages.openedAt}, ${at})`,
                status: sql`case when ${messages.status} in ('sent', 'delivered') then 'opened' else ${messages.status} end`,
              }
            : { machineOpens: sql`${messages.machineOpens} + 1` }
          : human
            ? {
                clicks: sql`${messages.clicks} + 1`,
                clickedAt: sql`coalesce(${messages.clickedAt}, ${at})`,
                status: sql`case when ${messages.status} in ('sent', 'delivered', 'opened') then 'clicked' else ${messages.status} end`,
              }
            : { machineClicks: sql`${messages.machineClicks} + 1` },
      )
      .where(eq(messages.id, message.id));
    await appendEvents(tx, outbox, [event]);
  });
  return verdict.machine;
}

/** An open pixel was fetched. Unknown or forged tokens are ignored (the pixel is served anyway). */
export async function trackOpen(deps: DeliveryDeps, raw: string | null, visit: Visit): Promise<boolean> {
  const token = readToken(deps, raw, 'o');
  if (!token) return false;
  const message = await messageOf(deps, token);
  if (!message) return false;
  await recordEngagement(deps, message, 'open', visit, null);
  return true;
}

/**
 * A tracked link was followed: where to send the visitor, or null for a bad token or link. The
 * link's index is the `l` beside the message's click token (older tokens carry it inside).
 */
export async function trackClick(
  deps: DeliveryDeps,
  raw: string | null,
  visit: Visit,
  linkParam: string | null = null,
): Promise<string | null> {
  const token = readToken(deps, raw, 'c');
  const index = token?.l ?? (linkParam !== null && /^\d{1,6}$/.test(linkParam) ? Number(linkParam) : undefined);
  if (!token || index === undefined) return null;
  const message = await messageOf(deps, token);
  if (!message?.templateId || message.channel !== 'email') return null;
  const [template] = await deps.handle.db
    .select({ compiled: templates.compiled })
    .from(templates)
    .where(and(eq(templates.id, message.templateId), eq(templates.organizationId, message.organizationId)));
  if (!template) return null;
  const [contact] = message.contactId
    ? await deps.handle.db
        .select()
        .from(contacts)
        .where(
          and(
            eq(contacts.id, message.contactId),
            eq(contacts.organizationId, message.organizationId),
            isNull(contacts.deletedAt),
          ),
        )
    : [];
  // The destination comes from the template (re-rendered for this message when personalised),
  // never from the request.
  const url = resolveLink(template.compiled as unknown as CompiledEmailTemplate, index, {
    contact: contact ? contactVars(contact) : { email: message.address, fields: {} },
    context: message.context,
    message: { id: message.id },
  });
  if (!url || !/^https?:\/\//i.test(url)) return null;
  // The click map counts the link as written; the visitor goes on with the send's UTM values.
  await recordEngagement(deps, message, 'click', visit, url);
  return addUtm(url, utmOf(message.context), deps.publicBaseUrl);
}

/** The UTM values a send's context carries (`context.utm`, as a campaign's requests do), if any. */
const utmOf = (context: Record<string, unknown>): UtmValues | null =>
  context.utm && typeof context.utm === 'object' ? (context.utm as UtmValues) : null;

/**
 * Unsubscribes the message's recipient from its channel (RFC 8058 one-click POST, or the
 * unsubscribe page's button). Touches that one address and channel, nothing else.
 */
export async function unsubscribe(
  deps: DeliveryDeps,
  raw: string | null,
  oneClick: boolean,
): Promise<MessageRow | null> {
  const token = readToken(deps, raw, 'u');
  if (!token) return null;
  const message = await messageOf(deps, token);
  if (!message || (message.channel !== 'email' && message.channel !== 'sms')) return null;
  await deps.handle.db.transaction(async (tx) => {
    await suppressInTx(
      tx,
      message.organizationId,
      {
        channel: message.channel as 'email' | 'sms',
        address: message.address,
        reason: 'unsubscribe',
        source: oneClick ? 'one-click' : 'unsubscribe-page',
      },
      { correlationId: message.id, messageId: message.id },
    );
    await tx.insert(messageEvents).values({
      organizationId: message.organizationId,
      messageId: message.id,
      type: 'unsubscribe',
      detail: oneClick ? 'one-click' : 'page',
      occurredAt: deps.now(),
    });
    await appendEvents(tx, outbox, [
      createEvent(catalogue.delivery.messageUnsubscribed, {
        organizationId: message.organizationId,
        subjectId: message.contactId ?? message.id,
        correlationId: message.id,
        data: { ...messageFacts(message), oneClick },
      }),
    ]);
  });
  return message;
}

/** The preference page: whether the recipient still gets marketing on the message's channel. */
export async function preferencesOf(deps: DeliveryDeps, raw: string | null) {
  const token = readToken(deps, raw, 'u');
  if (!token) return null;
  const message = await messageOf(deps, token);
  if (!message) return null;
  const [row] = await deps.handle.db
    .select({ reason: suppressions.reason })
    .from(suppressions)
    .where(
      and(
        eq(suppressions.organizationId, message.organizationId),
        eq(suppressions.channel, message.channel),
        eq(suppressions.address, message.address),
      ),
    );
  return { message, subscribed: !row, reason: row?.reason ?? null };
}

/** Resubscribes from the preference page; only an unsubscribe is undone, never a bounce or complaint. */
export async function resubscribe(deps: DeliveryDeps, raw: string | null): Promise<boolean> {
  const token = readToken(deps, raw, 'u');
  if (!token) return false;
  const message = await messageOf(deps, token);
  if (!message) return false;
  const removed = await deps.handle.db.transaction((tx) =>
    unsuppressInTx(
      tx,
      message.organizationId,
      { channel: message.channel, address: message.address, onlyReason: 'unsubscribe' },
      { correlationId: message.id, messageId: message.id },
    ),
  );
  return removed !== undefined;
}
