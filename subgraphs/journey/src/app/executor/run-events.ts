// What other contexts' events do to journeys, as the executor's own consumer group: they enter
// contacts into journeys whose triggers they match (segment entered or exited, a catalogued or
// custom event with its property conditions), resume runs waiting for them (an email of the run
// opened or clicked, a form, a page, a custom event), convert runs whose goal event they are, and
// end runs whose exit criteria they meet (left a segment, became DNC, contact deleted).
//
// An event that touches nothing writes nothing. One that does is applied once (processed_events)
// in one transaction: the new runs, their entry keys and events, and the runs it interrupts. An
// interrupted run is made ready with what happened in its `wait`, and its lease is taken away,
// so a stepper walking it at that moment drops its result and the run is walked again.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type DatabaseHandle, type Logger, type Subscription } from '@mauntic/platform';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { journeys, journeyVersions, processedEvents, runs, stepLog } from '../../db/schema.ts';
import {
  type EntryTrigger,
  type EventMatch,
  type JourneyDefinition,
  journeyDefinition,
  type WaitEvent,
} from '../../domain/definition.ts';
import { evaluateFilter, type FilterSubject } from './contact-filter.ts';
import { enterContacts } from './enter.ts';
import type { RunWait } from './run-state.ts';

export const EXECUTOR_CONSUMER = 'journey-executor';

/** A custom event about a contact (trackContactEvent, an emit event step), with its name and properties. */
export const CUSTOM_EVENT_TYPE = catalogue.crm.contactEventTracked.type;

export interface RunEventsDeps {
  handle: DatabaseHandle;
  logger: Logger;
  now: () => Date;
}

/** The consumer group; `onEntered` wakes the local steppers when runs entered. */
export function runEventsSubscription(deps: RunEventsDeps, onEntered: () => void = () => {}): Subscription {
  return {
    group: EXECUTOR_CONSUMER,
    contexts: ['crm', 'delivery', 'content'],
    handle: async (event) => {
      const changed = await applyRunEvent(deps, event);
      if (changed) onEntered();
    },
  };
}

type Interrupt = { runId: string; wait: RunWait; onlyWaiting: boolean };

/** Applies one event; true when it entered or interrupted any run. */
export async function applyRunEvent(deps: RunEventsDeps, event: EventEnvelope): Promise<boolean> {
  const contactId = contactOf(event);
  // Send requests travel on delivery's topic; they are this executor's own.
  if (!contactId || event.type === catalogue.delivery.messageRequested.type) return false;
  await recordDeliveryOutcome(deps, event, contactId);
  const org = event.organizationId;
  const now = deps.now();
  const [entering, interrupts] = await Promise.all([
    journeysEntered(deps, event),
    runsInterrupted(deps, event, contactId),
  ]);
  if (!entering.length && !interrupts.length) return false;
  return applyOnce(deps.handle.db, processedEvents, EXECUTOR_CONSUMER, event, async (tx) => {
    for (const { journeyId, version, trigger } of entering)
      await enterContacts(tx, {
        target: {
          organizationId: org,
          journeyId,
          versionId: version.id,
          version: version.version,
          start: version.definition.start,
          entryRule: version.definition.settings.entryRule,
        },
        contacts: sql`select ${contactId}::uuid as contact_id`,
        trigger: trigger.type,
        data: trigger.type === 'event' ? { event: { type: event.type, data: event.data } } : {},
        now,
        correlationId: event.correlationId,
      });
    for (const { runId, wait, onlyWaiting } of interrupts)
      await tx
        .update(runs)
        .set({ state: 'ready', wait, leaseOwner: null, leaseUntil: null })
        .where(
          and(
            eq(runs.id, runId),
            eq(runs.organizationId, org),
            onlyWaiting
              ? sql`${runs.state} = 'waiting' and ${runs.wait} ->> 'kind' = 'event'`
              : inArray(runs.state, ['ready', 'waiting']),
          ),
        );
  });
}

/** Published versions never change: each is parsed once, and the newest few hundred kept. */
const versionCache = new Map<string, JourneyDefinition>();
function parsedVersion(id: string, raw: unknown): JourneyDefinition {
  let definition = versionCache.get(id);
  if (!definition) {
    definition = journeyDefinition.parse(raw);
    if (versionCache.size >= 500) versionCache.delete(versionCache.keys().next().value!);
    versionCache.set(id, definition);
  }
  return definition;
}

/** The contact an event is about, if any. */
function contactOf(event: EventEnvelope): string | null {
  if (event.subject.type === 'contact') return event.subject.id;
  const data = event.data as { contactId?: unknown };
  return typeof data?.contactId === 'string' ? data.contactId : null;
}

// --- entering --------------------------------------------------------------------------------------

/** The entry keys (definition.ts entryKeys) an event can match. */
function keysOf(event: EventEnvelope): string[] {
  const data = event.data as Record<string, unknown>;
  if (event.type === CUSTOM_EVENT_TYPE) return [`event:custom:${data.name}`];
  // Segment events also enter journeys that name them as events (with conditions of their own).
  if (event.type === catalogue.crm.segmentEntered.type)
    return [`segmentEntered:${data.segmentId}`, `event:${event.type}`];
  if (event.type === catalogue.crm.segmentExited.type)
    return [`segmentExited:${data.segmentId}`, `event:${event.type}`];
  return [`event:${event.type}`];
}

interface Entering {
  journeyId: string;
  version: { id: string; version: number; definition: JourneyDefinition };
  trigger: EntryTrigger;
}

async function journeysEntered(deps: RunEventsDeps, event: EventEnvelope): Promise<Entering[]> {
  const keys = keysOf(event);
  const rows = await deps.handle.db
    .select({
      journeyId: journeys.id,
      versionId: journeyVersions.id,
      version: journeyVersions.version,
      definition: journeyVersions.definition,
    })
    .from(journeys)
    .innerJoin(journeyVersions, eq(journeyVersions.id, journeys.currentVersionId))
    .where(
      and(
        eq(journeys.organizationId, event.organizationId),
        eq(journeys.status, 'active'),
        sql`${journeys.entryKeys} && ${`{${keys.map((k) => `"${k.replace(/["\\]/g, '\\$&')}"`).join(',')}}`}::text[]`,
      ),
    );
  const now = deps.now();
  return rows.flatMap((row) => {
    const definition = parsedVersion(row.versionId, row.definition);
    const trigger = definition.entry.find((t) => triggerMatches(t, event, definition, now));
    return trigger
      ? [{ journeyId: row.journeyId, version: { id: row.versionId, version: row.version, definition }, trigger }]
      : [];
  });
}

function triggerMatches(trigger: EntryTrigger, event: EventEnvelope, definition: JourneyDefinition, now: Date) {
  const data = event.data as Record<string, unknown>;
  switch (trigger.type) {
    case 'segmentEntered':
      return event.type === catalogue.crm.segmentEntered.type && data.segmentId === trigger.segmentId;
    case 'segmentExited':
      return event.type === catalogue.crm.segmentExited.type && data.segmentId === trigger.segmentId;
    case 'event':
      return eventMatches(trigger, event, definition.settings.timezone ?? 'UTC', now);
    default:
      return false;
  }
}

/** A catalogued or custom event, with its property conditions. */
function eventMatches(match: Omit<EventMatch, 'type'>, event: EventEnvelope, timeZone: string, now: Date): boolean {
  const data = event.data as Record<string, unknown>;
  if (match.event === 'custom') {
    if (event.type !== CUSTOM_EVENT_TYPE || data.name !== match.name) return false;
  } else if (event.type !== match.event) return false;
  return !match.where || evaluateFilter(match.where, propertiesOf(event), { now, timeZone }).matches;
}

/** What a `where` clause reads of an event: a custom event's properties, a form's fields, else its data. */
function propertiesOf(event: EventEnvelope): FilterSubject {
  const data = event.data as Record<string, unknown>;
  const props =
    event.type === CUSTOM_EVENT_TYPE
      ? ((data.properties as Record<string, unknown>) ?? {})
      : event.type === catalogue.content.formSubmitted.type
        ? { ...(data.fields as Record<string, unknown>), pageUrl: data.pageUrl }
        : data;
  return {
    value: (field) =>
      field
        .replace(/^(properties|fields)\./, '')
        .split('.')
        .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), props),
  };
}

// --- interrupting ----------------------------------------------------------------------------------

async function runsInterrupted(deps: RunEventsDeps, event: EventEnvelope, contactId: string): Promise<Interrupt[]> {
  const data = event.data as Record<string, unknown>;
  // A merge ends the loser's runs: it is the contact that is gone.
  const affected =
    event.type === catalogue.crm.contactMerged.type ? String((data as { loserId: string }).loserId) : contactId;
  const active = await deps.handle.db
    .select({
      id: runs.id,
      journeyId: runs.journeyId,
      state: runs.state,
      wait: runs.wait,
      versionId: runs.versionId,
      definition: journeyVersions.definition,
    })
    .from(runs)
    .innerJoin(journeyVersions, eq(journeyVersions.id, runs.versionId))
    .where(
      and(
        eq(runs.organizationId, event.organizationId),
        eq(runs.contactId, affected),
        inArray(runs.state, ['ready', 'waiting']),
      ),
    );
  const now = deps.now();
  return active.flatMap((run): Interrupt[] => {
    const definition = parsedVersion(run.versionId, run.definition);
    const zone = definition.settings.timezone ?? 'UTC';
    const exit = exitReason(definition, event);
    if (exit) return [{ runId: run.id, wait: { kind: 'exit', reason: exit, eventId: event.id }, onlyWaiting: false }];
    const goal = (definition.settings.exit?.goals ?? []).find((g) => {
      const step = definition.steps[g];
      return step?.type === 'goal' && step.event && eventMatches(step.event, event, zone, now);
    });
    if (goal) return [{ runId: run.id, wait: { kind: 'goal', step: goal, eventId: event.id }, onlyWaiting: false }];
    const wait = run.wait as RunWait | null;
    if (
      run.state === 'waiting' &&
      wait?.kind === 'event' &&
      !wait.matched &&
      waitMatches(wait.event, run.journeyId, event, zone, now)
    )
      return [{ runId: run.id, wait: { ...wait, matched: true, eventId: event.id }, onlyWaiting: true }];
    return [];
  });
}

function exitReason(
  definition: JourneyDefinition,
  event: EventEnvelope,
): 'left_segment' | 'dnc' | 'contact_deleted' | null {
  const data = event.data as Record<string, unknown>;
  const exit = definition.settings.exit;
  if (event.type === catalogue.crm.contactDeleted.type || event.type === catalogue.crm.contactMerged.type)
    return 'contact_deleted';
  if (event.type === catalogue.crm.segmentExited.type && exit?.leavesSegment && data.segmentId === exit.leavesSegment)
    return 'left_segment';
  if (
    event.type === catalogue.crm.dncChanged.type &&
    data.doNotContact === true &&
    exit?.becomesDnc?.includes(data.channel as 'email')
  )
    return 'dnc';
  return null;
}

function waitMatches(wait: WaitEvent, journeyId: string, event: EventEnvelope, timeZone: string, now: Date): boolean {
  const data = event.data as Record<string, unknown>;
  const where = 'where' in wait ? wait.where : undefined;
  const props = () => !where || evaluateFilter(where, propertiesOf(event), { now, timeZone }).matches;
  switch (wait.kind) {
    case 'opened':
    case 'clicked': {
      const type =
        wait.kind === 'opened' ? catalogue.delivery.messageOpened.type : catalogue.delivery.messageClicked.type;
      const source = data.source as { kind?: string; id?: string; stepId?: string } | undefined;
      // Proxies and link scanners open and click without the person.
      return (
        event.type === type &&
        data.machine !== true &&
        source?.kind === 'journey' &&
        source.id === journeyId &&
        source.stepId === wait.step
      );
    }
    case 'form':
      return event.type === catalogue.content.formSubmitted.type && (!wait.id || data.formId === wait.id) && props();
    case 'page':
      return event.type === catalogue.content.pageVisited.type && (!wait.id || data.pageId === wait.id) && props();
    case 'custom':
      return event.type === CUSTOM_EVENT_TYPE && data.name === wait.name && props();
  }
}

// --- what became of a send ---------------------------------------------------------------------------

/** Delivery's outcome events for a message, and the outcome each records on the send step. */
const OUTCOMES: Record<string, string> = {
  [catalogue.delivery.messageSent.type]: 'sent',
  [catalogue.delivery.messageFailed.type]: 'failed',
};

/**
 * Writes what delivery did with a journey's send request on the send step's log entry: the
 * message once queued (found by the request's idempotency key, which a push to several devices
 * extends per device: the last device's message is the one followed), then sent, or failed or
 * skipped with the reason (found by the message). Setting a value is idempotent: redelivery
 * changes nothing.
 */
async function recordDeliveryOutcome(deps: RunEventsDeps, event: EventEnvelope, contactId: string) {
  const data = event.data as {
    messageId?: string;
    idempotencyKey?: string;
    reason?: string;
    source?: { kind?: string; id?: string | null; stepId?: string | null };
  };
  if (data.source?.kind !== 'journey' || !data.messageId) return;
  if (event.type === catalogue.delivery.messageQueued.type) {
    const [, runId, stepId, visit] =
      /^journey:([0-9a-f-]{36}):([a-z][a-z0-9_-]*):(\d+)(?!\d)/.exec(data.idempotencyKey ?? '') ?? [];
    if (!runId) return;
    await deps.handle.db
      .update(stepLog)
      .set({
        outcome: sql`${stepLog.outcome} || ${JSON.stringify({ messageId: data.messageId, delivery: 'queued' })}::jsonb`,
      })
      .where(
        and(
          eq(stepLog.organizationId, event.organizationId),
          eq(stepLog.runId, runId),
          eq(stepLog.stepId, stepId!),
          eq(stepLog.visit, Number(visit)),
        ),
      );
    return;
  }
  const status = OUTCOMES[event.type];
  if (!status || !data.source.id || !data.source.stepId) return;
  const outcome = JSON.stringify({ delivery: status, ...(data.reason ? { reason: data.reason } : {}) });
  const sendSteps = sql`r.id = l.run_id and r.organization_id = ${event.organizationId} and r.journey_id = ${data.source.id}
      and r.contact_id = ${contactId} and l.step_id = ${data.source.stepId}`;
  const followed = await deps.handle.rows(sql`
    update ${stepLog} l set outcome = l.outcome || ${outcome}::jsonb from ${runs} r
    where ${sendSteps} and l.outcome ->> 'messageId' = ${data.messageId}
    returning l.run_id`);
  if (followed.length || status !== 'failed') return;
  // A request delivery could not turn into a message fails without being queued: it is the
  // step's oldest request that has no message yet.
  await deps.handle.rows(sql`
    update ${stepLog} l set outcome = l.outcome || ${JSON.stringify({ messageId: data.messageId })}::jsonb || ${outcome}::jsonb
    where (l.run_id, l.step_id, l.visit) = (
      select l.run_id, l.step_id, l.visit from ${stepLog} l join ${runs} r on ${sendSteps}
      where l.outcome ->> 'messageRequest' is not null and l.outcome ->> 'messageId' is null
      order by l.at limit 1)`);
}
