// Send requests from the bus (journeys and campaigns publish `delivery.message.requested`). Each
// request ends in messages, once per (organization, idempotency key) however often it arrives:
// - one queued message per address (a push to a contact: one per registered device, each keyed by
//   the request's key and the device's token), which the engine sends or skips with its reason
//   (suppressed, do-not-contact, frequency cap...), as for every message;
// - a message that cannot be sent at all (no address for the channel, a deleted contact, a missing
//   or wrong-channel template) is written settled, skipped or failed with its reason, and
//   delivery.message.failed is published in the same transaction: whoever asked (a journey step)
//   always hears back, as from the engine;
// - a request for a contact delivery has not heard of yet waits in pending_requests (journeys and
//   integrators send right after creating a contact, and CRM's event may come second): the
//   contacts copy releases it when the contact arrives, or it ends skipped, unknown_contact, at
//   its deadline.
import { catalogue, createEvent, type EventEnvelope, newId } from '@mauntic/kernel';
import { appendEvents, applyEachOnce, applyOnce, defineJob, type Executor, rowsOf } from '@mauntic/platform';
import { and, eq, inArray, min, sql } from 'drizzle-orm';
import { z } from 'zod';
import { contacts, messages, outbox, pendingRequests, processedEvents, templates } from '../db/schema.ts';
import type { DeliveryDeps } from './deps.ts';
import { deviceKey, type EnqueueRequest, enqueueMessages, messageFacts } from './send.ts';

export const REQUESTS_CONSUMER = 'delivery-requests';

/** How long a request waits for a contact delivery has not heard of, unless the deps say otherwise. */
export const PENDING_CONTACT_MS = 10 * 60_000;

type RequestData = z.output<typeof catalogue.delivery.messageRequested.data>;
/** A request and the correlation id of the event that carried it. */
type SendRequest = RequestData & { correlationId: string };

export async function applySendRequest(deps: DeliveryDeps, event: EventEnvelope): Promise<boolean> {
  return (await applySendRequests(deps, [event])) === 1;
}

/** Send requests the bus hands over at once: one transaction, one query per step, not per request. */
export const REQUESTS_BATCH = 500;

/** Applies each request once, all in one transaction; returns how many were new. */
export async function applySendRequests(deps: DeliveryDeps, events: EventEnvelope[]): Promise<number> {
  // Parsed before anything is written: one malformed request fails the batch, and the bus then
  // applies its events one by one, so only that one is dead-lettered.
  const requests = new Map<string, SendRequest>(
    events.map((event) => [
      event.id,
      { ...catalogue.delivery.messageRequested.data.parse(event.data), correlationId: event.correlationId },
    ]),
  );
  let held: Date | null = null;
  const applied = await applyEachOnce(deps.handle.db, processedEvents, REQUESTS_CONSUMER, events, async (tx, fresh) => {
    const byOrganization = new Map<string, SendRequest[]>();
    for (const event of fresh) {
      const list = byOrganization.get(event.organizationId) ?? [];
      list.push(requests.get(event.id)!);
      byOrganization.set(event.organizationId, list);
    }
    for (const [organizationId, list] of byOrganization) {
      const until = await acceptRequests(tx, deps, organizationId, list);
      if (until && (!held || until < held)) held = until;
    }
  });
  if (held) await scheduleExpiry(deps, held);
  return applied;
}

export const NOTIFICATIONS_CONSUMER = 'delivery-notifications';

/**
 * A journey's notify step: its template sent to a member's email address, or to a webhook URL,
 * as one transactional message (a team member is not a contact: no consent, no caps). A notify
 * step without a template has nothing to send: its message is recorded as failed (`render_error`).
 */
export async function applyNotificationRequest(deps: DeliveryDeps, event: EventEnvelope): Promise<boolean> {
  const notification = catalogue.journeyActions.notificationRequested.data.parse(event.data);
  const request: SendRequest = {
    channel: notification.via,
    // A missing template settles the message as failed, through the same path as any request.
    templateId: notification.templateId ?? NO_TEMPLATE,
    contactId: null,
    address: notification.target,
    context: notification.context,
    idempotencyKey: notification.idempotencyKey,
    source: { kind: 'journey', id: notification.runId, stepId: notification.stepId },
    correlationId: event.correlationId,
  };
  return applyOnce(deps.handle.db, processedEvents, NOTIFICATIONS_CONSUMER, event, async (tx) => {
    await acceptRequests(tx, deps, event.organizationId, [request]);
  });
}

/** Names no template: a request carrying it settles as failed (`render_error`: template missing). */
const NO_TEMPLATE = '00000000-0000-0000-0000-000000000000';

/** What becomes of one request. */
type Decision =
  | { kind: 'queue'; messages: { address: string; idempotencyKey: string }[] }
  | { kind: 'settle'; status: 'skipped' | 'failed'; address: string; reason: string; detail: string }
  | { kind: 'hold' };

interface KnownContact {
  email: string | null;
  phone: string | null;
  pushTokens: string[];
  deleted: boolean;
}

interface KnownTemplate {
  channel: string;
  /** A webhook template's URL, as its author wrote it. */
  url: string | null;
}

/**
 * Turns requests of one organization into messages (queued, or settled with their outcome event)
 * or holds them for their contact, reading the contacts and templates they name with one query
 * each. Returns the earliest deadline it held a request until, if it held any.
 */
async function acceptRequests(
  tx: Executor,
  deps: DeliveryDeps,
  organizationId: string,
  requests: SendRequest[],
): Promise<Date | null> {
  const known = await contactsOf(tx, organizationId, requests);
  const named = await templatesOf(tx, organizationId, requests);
  const held: SendRequest[] = [];
  /** Messages to queue per correlation id (their queued events carry it): one insert each. */
  const queued = new Map<string, EnqueueRequest[]>();
  for (const request of requests) {
    const decision = decide(
      request,
      request.contactId ? known.get(request.contactId) : undefined,
      named.get(request.templateId),
    );
    if (decision.kind === 'hold') held.push(request);
    else if (decision.kind === 'settle') await settleMessage(tx, organizationId, request, decision);
    else {
      const list = queued.get(request.correlationId) ?? [];
      list.push(...decision.messages.map((m) => toEnqueue(request, m)));
      queued.set(request.correlationId, list);
    }
  }
  for (const [correlationId, list] of queued) await enqueueMessages(tx, organizationId, list, correlationId);
  return hold(tx, deps, organizationId, held);
}

/** The rules, in order: the template, whether delivery knows the contact, then its addresses. */
function decide(
  request: SendRequest,
  contact: KnownContact | undefined,
  template: KnownTemplate | undefined,
): Decision {
  const settle = (status: 'skipped' | 'failed', reason: string, detail: string): Decision => ({
    kind: 'settle',
    status,
    address: request.address ?? '',
    reason,
    detail,
  });
  if (!template) return settle('failed', 'render_error', 'the template does not exist');
  if (template.channel !== request.channel)
    return settle('failed', 'render_error', `the template is a ${template.channel} template, not ${request.channel}`);
  if (request.contactId && !contact) return { kind: 'hold' };
  if (contact?.deleted) return settle('skipped', 'do_not_contact', 'the contact was deleted');
  const key = request.idempotencyKey;
  if (request.channel === 'webhook') return queue([{ address: template.url ?? '', idempotencyKey: key }]);
  if (request.address) return queue([{ address: request.address, idempotencyKey: key }]);
  const addresses =
    request.channel === 'email'
      ? [contact?.email?.toLowerCase()]
      : request.channel === 'sms'
        ? [contact?.phone]
        : (contact?.pushTokens ?? []);
  const found = addresses.filter((a): a is string => Boolean(a));
  if (found.length === 0) return settle('skipped', 'no_address', `the contact has no ${request.channel} address`);
  return queue(
    found.map((address) => ({
      address,
      idempotencyKey: request.channel === 'push' ? deviceKey(key, address) : key,
    })),
  );
}

const queue = (list: { address: string; idempotencyKey: string }[]): Decision => ({ kind: 'queue', messages: list });

const toEnqueue = (request: SendRequest, m: { address: string; idempotencyKey: string }): EnqueueRequest => ({
  channel: request.channel,
  templateId: request.templateId,
  contactId: request.contactId,
  address: m.address,
  context: request.context,
  idempotencyKey: m.idempotencyKey,
  source: request.source,
});

/** The contacts the requests name, deleted ones (tombstones) included; absent: never heard of. */
async function contactsOf(tx: Executor, organizationId: string, requests: SendRequest[]) {
  const ids = [...new Set(requests.flatMap((r) => (r.contactId ? [r.contactId] : [])))];
  if (!ids.length) return new Map<string, KnownContact>();
  const rows = await tx
    .select({
      id: contacts.id,
      email: contacts.email,
      phone: contacts.phone,
      pushTokens: contacts.pushTokens,
      deletedAt: contacts.deletedAt,
    })
    .from(contacts)
    .where(and(eq(contacts.organizationId, organizationId), inArray(contacts.id, ids)));
  return new Map(rows.map(({ id, deletedAt, ...c }) => [id, { ...c, deleted: deletedAt !== null }]));
}

async function templatesOf(tx: Executor, organizationId: string, requests: SendRequest[]) {
  const ids = [...new Set(requests.map((r) => r.templateId))];
  const rows = await tx
    .select({
      id: templates.id,
      channel: templates.channel,
      url: sql<string | null>`${templates.source} ->> 'urlTemplate'`,
    })
    .from(templates)
    .where(and(eq(templates.organizationId, organizationId), inArray(templates.id, ids)));
  return new Map(rows.map(({ id, ...t }) => [id, t]));
}

/** A message that will not be sent, written with its outcome and delivery.message.failed, once per key. */
async function settleMessage(
  tx: Executor,
  organizationId: string,
  request: SendRequest,
  outcome: Extract<Decision, { kind: 'settle' }>,
): Promise<void> {
  const [row] = await tx
    .insert(messages)
    .values({
      id: newId(),
      organizationId,
      idempotencyKey: request.idempotencyKey,
      channel: request.channel,
      templateId: request.templateId,
      contactId: request.contactId,
      address: outcome.address,
      sourceKind: request.source.kind,
      sourceId: request.source.id,
      sourceStepId: request.source.stepId,
      context: request.context,
      status: outcome.status,
      error: `${outcome.reason}: ${outcome.detail}`,
      ...(outcome.status === 'failed' ? { failedAt: sql`now()` } : {}),
    })
    .onConflictDoNothing()
    .returning();
  if (!row) return;
  await appendEvents(tx, outbox, [
    createEvent(catalogue.delivery.messageFailed, {
      organizationId,
      subjectId: row.contactId ?? row.id,
      correlationId: request.correlationId,
      data: { ...messageFacts(row), reason: outcome.reason, detail: outcome.detail },
    }),
  ]);
}

/** Keeps requests until their contact arrives; returns the earliest deadline among them. */
async function hold(
  tx: Executor,
  deps: DeliveryDeps,
  organizationId: string,
  requests: SendRequest[],
): Promise<Date | null> {
  if (!requests.length) return null;
  const deadline = new Date(deps.now().getTime() + (deps.pendingContactMs ?? PENDING_CONTACT_MS));
  await tx
    .insert(pendingRequests)
    .values(
      requests.map(({ correlationId, ...request }) => ({
        organizationId,
        idempotencyKey: request.idempotencyKey,
        contactId: request.contactId!,
        request,
        correlationId,
        deadline,
      })),
    )
    .onConflictDoNothing();
  return deadline;
}

/**
 * The requests held for these contacts, accepted now that delivery knows them (or knows they are
 * gone). Called by the contacts copy in the transaction that applies the contact's event.
 */
export async function releasePendingRequests(
  tx: Executor,
  deps: DeliveryDeps,
  organizationId: string,
  contactIds: string[],
): Promise<void> {
  const released = await tx
    .delete(pendingRequests)
    .where(and(eq(pendingRequests.organizationId, organizationId), inArray(pendingRequests.contactId, contactIds)))
    .returning();
  if (!released.length) return;
  await acceptRequests(
    tx,
    deps,
    organizationId,
    released.map((r) => ({ ...(r.request as RequestData), correlationId: r.correlationId })),
  );
}

/** Requests past their deadline ended per transaction. */
const EXPIRY_BATCH = 1000;

/**
 * Ends every request whose deadline passed as a skipped message (unknown_contact), then schedules
 * itself for the next deadline. Set-based and safe to run anywhere at once: each held request is
 * taken by one transaction only.
 */
export async function expirePendingRequests(deps: DeliveryDeps, dueBy?: Date): Promise<number> {
  let expired = 0;
  for (;;) {
    // A timer may fire a little before its time: what it was set for is due all the same.
    const now = new Date(Math.max(deps.now().getTime(), dueBy?.getTime() ?? 0));
    const ended = await deps.handle.db.transaction(async (tx) => {
      const rows = rowsOf<{ organization_id: string; request: RequestData; correlation_id: string }>(
        await tx.execute(sql`
          delete from ${pendingRequests} p
          using (select organization_id, idempotency_key from ${pendingRequests}
                 where deadline <= ${now.toISOString()}::timestamptz
                 order by deadline limit ${EXPIRY_BATCH} for update skip locked) due
          where p.organization_id = due.organization_id and p.idempotency_key = due.idempotency_key
          returning p.organization_id, p.request, p.correlation_id`),
      );
      for (const row of rows)
        await settleMessage(
          tx,
          row.organization_id,
          { ...row.request, correlationId: row.correlation_id },
          {
            kind: 'settle',
            status: 'skipped',
            address: row.request.address ?? '',
            reason: 'unknown_contact',
            detail: 'delivery has not heard of this contact',
          },
        );
      return rows.length;
    });
    expired += ended;
    if (ended < EXPIRY_BATCH) break;
  }
  const [next] = await deps.handle.db.select({ at: min(pendingRequests.deadline) }).from(pendingRequests);
  if (next?.at) await scheduleExpiry(deps, next.at);
  return expired;
}

export const expirePendingJob = (deps: DeliveryDeps) =>
  defineJob({
    name: 'delivery-send-request-expiry',
    /** The deadline (ms) the sweep was set for. */
    schema: z.object({ at: z.number().int() }),
    handle: async ({ at }) => {
      await expirePendingRequests(deps, new Date(at));
    },
  });

/** A sweep at `deadline`, one per second of deadlines however many requests fall due in it. */
async function scheduleExpiry(deps: DeliveryDeps, deadline: Date): Promise<void> {
  const at = Math.ceil(deadline.getTime() / 1000) * 1000;
  await deps.queue.enqueue(
    expirePendingJob(deps),
    { at },
    { jobId: `send-request-expiry-${at}`, delayMs: Math.max(0, at - deps.now().getTime()) },
  );
}
