// Due delays woken set-based. A delay that falls due completes on the clock alone: the walk
// logs it with `waitedUntil`, writes its journey.step.completed and goes on to the next step. For
// many runs falling due at once (a campaign's "wait one day"), walking each in memory is the slow
// part, so the stepper does exactly that transition in one statement per chunk instead: the
// step log row, the event and the run moved on to its next step as `ready`; the lanes then walk
// the next steps as usual.
//
// Exactly once as in the walk: the chunk's rows are locked (skip locked, unleased ones only)
// until the statement's transaction commits, a step is logged only where its row is not there
// yet (and the primary key refuses it otherwise, failing the chunk, which commits nothing), and
// its event is written from the same rows. Runs whose wake depends on more than the clock are
// not picked (a deleted contact ends the run; a version that does not parse fails its runs): the
// walk takes those.
import { catalogue, topicOf } from '@mauntic/kernel';
import { type Executor, OUTBOX_CHANNEL, rowsOf, tracing } from '@mauntic/platform';
import { type SQL, sql } from 'drizzle-orm';
import { contacts, journeys, outbox, runs, stepLog } from '../../db/schema.ts';
import type { StepId } from '../../domain/definition.ts';
import { RUNS_CHANNEL, UUID_V7 } from './enter.ts';

/** A delay step of a parsed version, and where it leads. */
export interface WakeableDelay {
  versionId: string;
  version: number;
  stepId: StepId;
  next: StepId;
}

export interface DelayWake {
  now: Date;
  limit: number;
  /** The delay steps of every version the stepper has parsed. */
  delays: WakeableDelay[];
  /** Versions that do not parse: their runs are the walk's. */
  invalid: string[];
}

export interface WokenDelays {
  /** Due delays locked, oldest due first (at most `limit`). */
  picked: number;
  /** Steps logged. */
  woken: number;
  /** Versions of picked runs the stepper has not parsed yet: those runs were left as they were. */
  unknownVersions: string[];
}

/**
 * Completes up to `limit` due delays of active journeys, as the walk would at `now`: the step log
 * row (its visit, `waitedUntil` the due time), journey.step.completed, and the run ready at the
 * next step's next visit, its lease cleared.
 */
export async function wakeDueDelays(tx: Executor, wake: DelayWake): Promise<WokenDelays> {
  const at = wake.now.toISOString();
  const event = catalogue.journey.stepCompleted;
  const known = [...new Set(wake.delays.map((d) => d.versionId))];
  // Tracing on: each event carries its run's trace (the key stripped where the run has none; no
  // other field of the event is ever null).
  const envelope = (fields: SQL) =>
    tracing.enabled
      ? sql`json_strip_nulls(json_build_object(${fields}, 'traceparent', ev.trace_parent))`
      : sql`json_build_object(${fields})`;
  const result = await tx.execute(sql`
    with picked as materialized (
      select r.id, r.organization_id, r.journey_id, r.version_id, r.contact_id, r.step_id, r.visit, r.due_at,
        r.trace_parent
      from ${runs} r join ${journeys} j on j.id = r.journey_id
      where r.state = 'waiting' and r.due_at <= ${at}::timestamptz and j.status = 'active'
        and r.wait ->> 'kind' = 'delay' and (r.lease_until is null or r.lease_until < now())
        and r.version_id <> all(${`{${wake.invalid.join(',')}}`}::uuid[])
        and not exists (select 1 from ${contacts} c
          where c.id = r.contact_id and c.organization_id = r.organization_id and c.deleted)
      order by r.due_at limit ${wake.limit}
      for update of r skip locked
    ), woken as materialized (
      select p.*, w.version, w.next,
        -- The next step's visit: one more than it was logged, counting this one when a delay leads to itself.
        greatest(
          (select max(l.visit) from ${stepLog} l where l.run_id = p.id and l.step_id = w.next),
          case when w.next = p.step_id then p.visit end, 0) + 1 as next_visit,
        not exists (select 1 from ${stepLog} l where l.run_id = p.id and l.step_id = p.step_id and l.visit = p.visit)
          as unlogged
      from picked p
        join json_to_recordset(${JSON.stringify(wake.delays)}::json)
          as w("versionId" uuid, version int, "stepId" text, next text)
          on w."versionId" = p.version_id and w."stepId" = p.step_id
    ), moved as (
      update ${runs} r set state = 'ready', step_id = w.next, visit = w.next_visit, due_at = null, wait = null,
        lease_owner = null, lease_until = null
      from woken w where r.id = w.id
    ), logged as (
      insert into ${stepLog} (run_id, step_id, visit, organization_id, journey_id, status, outcome, at)
      select id, step_id, visit, organization_id, journey_id, 'completed', outcome, ${at}::timestamptz
      from (select w.*, jsonb_build_object('waitedUntil',
          to_char(due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')) as outcome from woken w where unlogged) s
      returning 1
    ), events as (
      insert into ${outbox} (id, organization_id, topic, key, type, envelope)
      select ev.id, ev.organization_id, ${topicOf('journey')}, ev.contact_id::text, ${event.type},
        -- The envelope createEvent makes, field for field and in its order (see the walk's record()).
        ${envelope(sql`'id', ev.id, 'type', ${event.type}::text, 'version', ${event.version}::int,
          'organizationId', ev.organization_id, 'occurredAt', ${at}::text, 'correlationId', ev.run_id,
          'subject', json_build_object('type', ${event.subjectType}::text, 'id', ev.contact_id),
          'data', json_build_object('runId', ev.run_id, 'journeyId', ev.journey_id, 'versionId', ev.version_id,
            'version', ev.version, 'stepId', ev.step_id, 'stepType', 'delay', 'visit', ev.visit, 'status', 'completed',
            'outcome', json_build_object('waitedUntil',
              to_char(ev.due_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))`)}
      from (select ${UUID_V7} as id, w.id as run_id, w.organization_id, w.journey_id, w.version_id, w.version,
          w.contact_id, w.step_id, w.visit, w.due_at, w.trace_parent
        from woken w where unlogged) ev
      order by ev.due_at
    )
    -- (Data-modifying parts run whether read or not.) The relay and the lanes are woken once, if at all.
    select (select count(*) from picked)::int as picked, (select count(*) from woken where unlogged)::int as woken,
      array(select distinct version_id from picked where version_id <> all(${`{${known.join(',')}}`}::uuid[]))::text[]
        as unknown,
      (select count(*) from (select pg_notify(${OUTBOX_CHANNEL}, 'journey'), pg_notify(${RUNS_CHANNEL}, '')
        from (select) one where exists (select from woken where unlogged)) n)::int as notified`);
  const [row] = rowsOf<{ picked: number; woken: number; unknown: string[] }>(result);
  return { picked: row!.picked, woken: row!.woken, unknownVersions: row!.unknown };
}
