// What journeys ask of CRM (consumers.ts subscribes to them): an update contact step's changes, a
// segment step's static membership change and an emit event step's custom event. Each goes through
// the use case the API calls, as the organization's system caller, inside the consumer's
// transaction: the change, its events and the record that the request was applied commit together
// (the use case's own transaction becomes a savepoint). A request about a contact that does not
// exist (any more) changes nothing; what a use case refuses is logged, once, with the request.
import {
  catalogue,
  type DomainError,
  type EventEnvelope,
  type OrganizationId,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import type { DatabaseHandle, Transaction } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import { contacts } from '../db/schema.ts';
import { trackContactEvent } from './activities.ts';
import { adjustPoints, setDoNotContact, tagContact } from './contact-attributes.ts';
import type { ContactInput } from './contact-values.ts';
import { updateContact } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { changeStaticMembers } from './segments.ts';

const j = catalogue.journeyActions;
export const JOURNEY_EVENTS = [j.contactUpdateRequested, j.segmentChangeRequested, j.contactEventRequested];

/** Standard contact fields a journey may set by name (the rest are `fields.<key>`). */
const SETTABLE = ['email', 'firstName', 'lastName', 'phone', 'timezone', 'locale'] as const;

type Refusal = { part: string; error: DomainError };

/** Applies one journey request in the consumer's transaction. */
export async function applyJourneyEvent(tx: Transaction, deps: CrmDeps, event: EventEnvelope): Promise<void> {
  const def = JOURNEY_EVENTS.find((d) => d.type === event.type);
  if (!def) return;
  const { runId, journeyId, stepId } = def.data.parse(event.data);
  const contactId = event.subject.id;
  const log = { organizationId: event.organizationId, contactId, journeyId, runId, stepId, eventId: event.id };
  const [contact] = await tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.organizationId, event.organizationId), eq(contacts.id, contactId)));
  if (!contact) {
    deps.logger.info(log, `${event.type}: the contact does not exist (any more); nothing to change`);
    return;
  }
  const refusals = await apply({ ...deps, handle: inTransaction(deps.handle, tx) }, systemCaller(event), event);
  if (refusals.length)
    deps.logger.warn(
      { ...log, refused: refusals.map((r) => ({ part: r.part, code: r.error.code, message: r.error.message })) },
      `${event.type}: CRM refused part of the request`,
    );
}

/** Runs the request's parts through their use cases; returns what they refused. */
async function apply(deps: CrmDeps, ctx: RequestContext, event: EventEnvelope): Promise<Refusal[]> {
  const contactId = event.subject.id;
  const refusals: Refusal[] = [];
  const run = async (part: string, result: Promise<Result<unknown, DomainError>>) => {
    const outcome = await result;
    if (!outcome.ok) refusals.push({ part, error: outcome.error });
  };
  switch (event.type) {
    case j.contactUpdateRequested.type: {
      const request = j.contactUpdateRequested.data.parse(event.data);
      const { input, unknown } = contactInput(request);
      if (unknown.length)
        refusals.push({
          part: 'set',
          error: new ValidationError(
            unknown.map((name) => ({ path: ['set', name], message: 'is not a field to set' })),
          ),
        });
      if (Object.keys(input).length) await run('set', updateContact(deps, ctx, contactId, input));
      if (request.addTags?.length || request.removeTags?.length)
        await run(
          'tags',
          tagContact(deps, ctx, { contactId, add: request.addTags ?? [], remove: request.removeTags ?? [] }),
        );
      if (request.points)
        await run(
          'points',
          adjustPoints(deps, ctx, { contactId, delta: request.points, reason: `journey ${request.journeyId}` }),
        );
      if (request.dnc)
        await run(
          'dnc',
          setDoNotContact(deps, ctx, {
            contactId,
            channel: request.dnc.channel,
            doNotContact: request.dnc.value,
            source: `journey:${request.journeyId}`,
          }),
        );
      break;
    }
    case j.segmentChangeRequested.type: {
      const { segmentId, action } = j.segmentChangeRequested.data.parse(event.data);
      await run('segment', changeStaticMembers(deps, ctx, segmentId, [contactId], action));
      break;
    }
    case j.contactEventRequested.type: {
      const { name, properties } = j.contactEventRequested.data.parse(event.data);
      await run('event', trackContactEvent(deps, ctx, { contactId, name, properties, occurredAt: event.occurredAt }));
      break;
    }
  }
  return refusals;
}

/** An update step's `set`, `stageId` and `ownerId` as the API's contact input, and the names it cannot set. */
function contactInput(request: typeof j.contactUpdateRequested.data._output) {
  const input: ContactInput = {};
  const fields: Record<string, unknown> = {};
  const unknown: string[] = [];
  for (const [name, value] of Object.entries(request.set ?? {})) {
    const custom = /^fields\.(.+)$/.exec(name)?.[1];
    if (custom) fields[custom] = value;
    else if ((SETTABLE as readonly string[]).includes(name))
      input[name as (typeof SETTABLE)[number]] = value as string | null;
    else unknown.push(name);
  }
  if (Object.keys(fields).length) input.fields = fields;
  if (request.stageId !== undefined) input.stageId = request.stageId;
  if (request.ownerId !== undefined) input.ownerId = request.ownerId;
  return { input, unknown };
}

/** The organization's system caller: what a journey step may do to its contacts. */
const systemCaller = (event: EventEnvelope): RequestContext => ({
  correlationId: event.correlationId,
  actor: { type: 'system', id: 'crm-journey-requests' },
  organizationId: event.organizationId as OrganizationId,
  scopes: ['crm:write'],
});

/** The handle with every query inside `tx`: a use case's own transaction becomes a savepoint of it. */
export const inTransaction = (handle: DatabaseHandle, tx: Transaction): DatabaseHandle => ({
  ...handle,
  db: tx,
  rows: (query, executor = tx) => handle.rows(query, executor),
});
