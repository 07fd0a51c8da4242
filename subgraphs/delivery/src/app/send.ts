// The transactional API: a send request becomes one message row (once per idempotency key) and a
// `delivery.message.queued` event, committed together. The engine does the rest.
import { createHash } from 'node:crypto';
import {
  authorize,
  catalogue,
  createEvent,
  type EventEnvelope,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor, rowsOf, traceparentOf } from '@mauntic/platform';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { contacts, messages, outbox, settings, templates } from '../db/schema.ts';
import { IdempotencyConflictError, UnverifiedSendingDomainError } from '../domain/errors.ts';
import type { DeliveryDeps } from './deps.ts';
import { domainStatuses } from './sending-domains.ts';

export type MessageRow = typeof messages.$inferSelect;
/** The channels the transactional API sends on. */
export type SendChannel = 'email' | 'sms' | 'push';
/** Every channel a message may be on: webhooks are sent for journeys and campaigns. */
export type MessageChannel = SendChannel | 'webhook';

export const sendInput = z
  .object({
    templateId: z.uuid(),
    /** The recipient as a CRM contact... */
    contactId: z.uuid().optional(),
    /** ...or a bare address: an email, an E.164 phone number or a push device token. */
    to: z.string().trim().min(3).max(4096).optional(),
    /** Per-send template variables, under `context` in the template. */
    context: z.record(z.string(), z.unknown()).default({}),
    /** A second request with the same key returns the first message instead of sending again. */
    idempotencyKey: z.string().trim().min(1).max(200),
  })
  .refine((v) => Boolean(v.contactId) !== Boolean(v.to), {
    message: 'give exactly one of contactId and to',
    path: ['contactId'],
  });

const ADDRESS: Record<SendChannel, z.ZodType<string>> = {
  email: z.email().transform((v) => v.toLowerCase()),
  sms: z.string().regex(/^\+[1-9]\d{6,14}$/, 'expected an E.164 phone number'),
  push: z.string().min(16, 'expected a device registration token'),
};

export interface EnqueueRequest {
  channel: MessageChannel;
  templateId: string;
  contactId: string | null;
  address: string;
  context: Record<string, unknown>;
  idempotencyKey: string;
  source: { kind: 'transactional' | 'campaign' | 'journey'; id: string | null; stepId: string | null };
}

/**
 * Inserts the message once per (organization, idempotency key) and queues it. Returns the existing
 * message when the key was used before for the same recipient and template.
 */
export async function enqueueMessage(
  tx: Executor,
  organizationId: string,
  request: EnqueueRequest,
  correlationId: string,
): Promise<Result<MessageRow, IdempotencyConflictError>> {
  const [inserted] = await enqueueMessages(tx, organizationId, [request], correlationId);
  const [row] = await tx
    .select()
    .from(messages)
    .where(and(eq(messages.organizationId, organizationId), eq(messages.idempotencyKey, request.idempotencyKey)));
  if (inserted !== undefined && row) return ok(row);
  const same =
    row && row.channel === request.channel && row.templateId === request.templateId && row.address === request.address;
  return same ? ok(row) : fail(new IdempotencyConflictError(request.idempotencyKey));
}

/** Requests per statement: a campaign's audience goes in slices of this many. */
const SLICE = 5000;

/**
 * Queues many messages at once (a campaign's audience, a journey step's batch): per slice, one
 * insert whose rows travel as a single JSON parameter (binding 11 parameters a row and mapping
 * every column back cost more than the insert itself), then one outbox append of the queued
 * events, built here since every field they carry is known before the insert. Requests whose
 * idempotency key was used before are skipped; returns the ids it inserted.
 */
export async function enqueueMessages(
  tx: Executor,
  organizationId: string,
  requests: EnqueueRequest[],
  correlationId: string,
): Promise<string[]> {
  const queued: string[] = [];
  // Tracing on: the engine's send span joins the trace of the work that queued the message.
  const traceParent = traceparentOf() ?? null;
  for (let i = 0; i < requests.length; i += SLICE) {
    const slice = requests.slice(i, i + SLICE).map((r) => ({
      id: newId(),
      organizationId,
      idempotencyKey: r.idempotencyKey,
      channel: r.channel,
      templateId: r.templateId,
      contactId: r.contactId,
      address: r.address,
      sourceKind: r.source.kind,
      sourceId: r.source.id,
      sourceStepId: r.source.stepId,
      context: r.context,
    }));
    const inserted = await tx.execute(sql`
      insert into ${messages} (id, organization_id, idempotency_key, channel, template_id, contact_id, address,
                               source_kind, source_id, source_step_id, context, trace_parent)
      select r.id, ${organizationId}, r."idempotencyKey", r.channel, r."templateId", r."contactId", r.address,
             r."sourceKind", r."sourceId", r."sourceStepId", r.context, ${traceParent}::text
      from json_to_recordset(${JSON.stringify(slice)}::json)
        as r(id uuid, "idempotencyKey" text, channel text, "templateId" uuid, "contactId" uuid, address text,
             "sourceKind" text, "sourceId" text, "sourceStepId" text, context jsonb)
      on conflict (organization_id, idempotency_key) do nothing
      returning id`);
    const ids = new Set(rowsOf<{ id: string }>(inserted).map((row) => row.id));
    await appendEvents(
      tx,
      outbox,
      slice.filter((m) => ids.has(m.id)).map((m) => queuedEvent(m, correlationId)),
    );
    queued.push(...ids);
  }
  return queued;
}

/** What a delivery.message.* event says about its message. */
type MessageFactsOf = Pick<
  MessageRow,
  | 'id'
  | 'organizationId'
  | 'contactId'
  | 'channel'
  | 'address'
  | 'templateId'
  | 'sourceKind'
  | 'sourceId'
  | 'sourceStepId'
>;

export function queuedEvent(
  m: MessageFactsOf & Pick<MessageRow, 'idempotencyKey'>,
  correlationId: string,
): EventEnvelope {
  return createEvent(catalogue.delivery.messageQueued, {
    organizationId: m.organizationId,
    subjectId: m.contactId ?? m.id,
    correlationId,
    data: { ...messageFacts(m), idempotencyKey: m.idempotencyKey },
  });
}

/** The fields every delivery.message.* event carries. */
export function messageFacts(m: MessageFactsOf) {
  return {
    messageId: m.id,
    contactId: m.contactId,
    channel: m.channel as MessageChannel,
    address: m.address,
    templateId: m.templateId,
    source: { kind: m.sourceKind as EnqueueRequest['source']['kind'], id: m.sourceId, stepId: m.sourceStepId },
  };
}

/** sendEmail / sendSms: one message. */
export async function sendMessage(
  deps: DeliveryDeps,
  ctx: RequestContext,
  channel: 'email' | 'sms',
  raw: z.input<typeof sendInput>,
): Promise<Result<MessageRow>> {
  const sent = await send(deps, ctx, channel, raw);
  return sent.ok ? ok(sent.value[0]!) : sent;
}

/**
 * sendPush: one message per device. To a contact, every token it registered, each keyed by the
 * request's key and a hash of the token (as for journeys' push requests), so a device registered
 * later gets its own message when the request is made again; to a bare token, that one.
 */
export function sendPush(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof sendInput>) {
  return send(deps, ctx, 'push', raw);
}

class Refused extends Error {
  constructor(readonly failure: IdempotencyConflictError) {
    super(failure.message);
  }
}

async function send(
  deps: DeliveryDeps,
  ctx: RequestContext,
  channel: SendChannel,
  raw: z.input<typeof sendInput>,
): Promise<Result<MessageRow[]>> {
  const access = authorize(ctx, 'delivery:write', sendInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { templateId, contactId, context, idempotencyKey } = input;
  if (contactId) await contactArrived(deps, contactId);
  try {
    return await deps.handle.db.transaction(async (tx) => {
      const template = await checkTemplate(tx, organizationId, channel, templateId);
      if (!template.ok) return template;
      const sender = await checkSendingDomain(tx, organizationId, template.value);
      if (!sender.ok) return sender;
      const recipients = contactId
        ? await contactRecipients(tx, organizationId, channel, contactId, idempotencyKey)
        : bareRecipient(channel, input.to, idempotencyKey);
      if (!recipients.ok) return recipients;
      const queued: MessageRow[] = [];
      for (const recipient of recipients.value) {
        const message = await enqueueMessage(
          tx,
          organizationId,
          {
            channel,
            templateId,
            contactId: contactId ?? null,
            address: recipient.address,
            context,
            idempotencyKey: recipient.idempotencyKey,
            source: { kind: 'transactional', id: null, stepId: null },
          },
          ctx.correlationId,
        );
        // Nothing of a request is kept when one of its messages is refused.
        if (!message.ok) throw new Refused(message.error);
        queued.push(message.value);
      }
      return ok(queued);
    });
  } catch (error) {
    if (error instanceof Refused) return fail(error.failure);
    throw error;
  }
}

async function checkTemplate(tx: Executor, organizationId: string, channel: SendChannel, templateId: string) {
  const [template] = await tx
    .select({
      id: templates.id,
      channel: templates.channel,
      category: templates.category,
      compiled: templates.compiled,
    })
    .from(templates)
    .where(and(eq(templates.organizationId, organizationId), eq(templates.id, templateId)));
  if (!template) return fail(new NotFoundError('Template', templateId));
  if (template.channel !== channel)
    return fail(new ValidationError([{ path: ['input', 'templateId'], message: `is a ${template.channel} template` }]));
  return ok(template);
}

/**
 * Marketing email from a sending domain the organization added must wait until the domain's
 * records are verified (the engine holds the same rule for campaigns and journeys). A From domain
 * that is no sending domain is not held up here.
 */
async function checkSendingDomain(
  tx: Executor,
  organizationId: string,
  template: { channel: string; category: string; compiled: Record<string, unknown> },
): Promise<Result<null>> {
  if (template.channel !== 'email' || template.category === 'transactional') return ok(null);
  let from = template.compiled.fromAddress as string | null | undefined;
  if (!from) {
    const [row] = await tx
      .select({ from: settings.defaultFromAddress })
      .from(settings)
      .where(eq(settings.organizationId, organizationId));
    from = row?.from;
  }
  if (!from) return ok(null);
  const domain = from.slice(from.lastIndexOf('@') + 1).toLowerCase();
  const status = (await domainStatuses(tx, organizationId, [domain])).get(domain);
  return status && status !== 'verified' ? fail(new UnverifiedSendingDomainError(domain)) : ok(null);
}

// CRM's contact reaches delivery's copy through the bus a moment after createContact answered
// (50-340 ms seen in cluster mode). A caller that sends right after creating one (a journey step,
// an integrator) gets it sent once it is here rather than NotFound: a contact id made less than
// CONTACT_ARRIVAL_MS ago that no organization's copy holds yet is waited for, up to that age.
// Any other unknown id (old, not a UUIDv7, or another organization's) is answered at once.
const CONTACT_ARRIVAL_MS = 5000;
const CONTACT_POLL_MS = 50;

async function contactArrived(deps: DeliveryDeps, contactId: string): Promise<void> {
  // A UUIDv7 begins with its creation time in milliseconds.
  if (contactId[14] !== '7') return;
  const madeAt = Number.parseInt(contactId.replaceAll('-', '').slice(0, 12), 16);
  // Bounded from now too: an id claiming to be from the future waits no longer.
  const deadline = Math.min(madeAt, Date.now()) + CONTACT_ARRIVAL_MS;
  while (Date.now() < deadline) {
    const [copy] = await deps.handle.db
      .select({ id: contacts.id })
      .from(contacts)
      .where(eq(contacts.id, contactId))
      .limit(1);
    if (copy) return;
    await new Promise((resolve) => setTimeout(resolve, CONTACT_POLL_MS));
  }
}

/** A push request's key for one of its contact's devices: the same for the same request and token. */
export const deviceKey = (key: string, token: string) =>
  `${key}:${createHash('sha256').update(token).digest('hex').slice(0, 16)}`;

type Recipient = { address: string; idempotencyKey: string };

async function contactRecipients(
  tx: Executor,
  organizationId: string,
  channel: SendChannel,
  contactId: string,
  idempotencyKey: string,
): Promise<Result<Recipient[]>> {
  const [contact] = await tx
    .select({ email: contacts.email, phone: contacts.phone, pushTokens: contacts.pushTokens })
    .from(contacts)
    .where(and(eq(contacts.organizationId, organizationId), eq(contacts.id, contactId), isNull(contacts.deletedAt)));
  if (!contact) return fail(new NotFoundError('Contact', contactId));
  const recipients: Recipient[] =
    channel === 'push'
      ? contact.pushTokens.map((token) => ({ address: token, idempotencyKey: deviceKey(idempotencyKey, token) }))
      : [channel === 'email' ? contact.email?.toLowerCase() : contact.phone]
          .filter((address): address is string => Boolean(address))
          .map((address) => ({ address, idempotencyKey }));
  if (recipients.length === 0)
    return fail(
      new ValidationError([{ path: ['input', 'contactId'], message: `the contact has no ${channel} address` }]),
    );
  return ok(recipients);
}

function bareRecipient(channel: SendChannel, to: string | undefined, idempotencyKey: string): Result<Recipient[]> {
  const parsed = ADDRESS[channel].safeParse(to);
  if (!parsed.success)
    return fail(new ValidationError([{ path: ['input', 'to'], message: parsed.error.issues[0]!.message }]));
  return ok([{ address: parsed.data, idempotencyKey }]);
}

/** Registers a push device token on a contact (the app reports it after the user opts in). */
export async function registerPushToken(
  deps: DeliveryDeps,
  ctx: RequestContext,
  input: { contactId: string; token: string },
) {
  const access = authorize(ctx, 'delivery:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const token = ADDRESS.push.safeParse(input.token);
  if (!token.success) return fail(new ValidationError([{ path: ['input', 'token'], message: 'too short' }]));
  const updated = await deps.handle.db
    .update(contacts)
    .set({ pushTokens: sql`array(select distinct unnest(${contacts.pushTokens} || array[${token.data}]::text[]))` })
    .where(
      and(eq(contacts.organizationId, organizationId), eq(contacts.id, input.contactId), isNull(contacts.deletedAt)),
    )
    .returning({ id: contacts.id });
  return updated.length ? ok(true) : fail(new NotFoundError('Contact', input.contactId));
}
