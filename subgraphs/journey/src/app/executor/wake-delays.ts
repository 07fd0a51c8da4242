// Due delays woken set-based. A delay that falls due completes on the clock alone: the walk
// logs it with `waitedUntil`, writes its journey.step.completed and goes on to the next step. For
// many runs falling due at once (a campaign's "wait one day"), walking each in memory is the slow
// part, so the stepper does exactly that transition in two statements per chunk instead: the
// step log row, the event and the run moved on to its next step as `ready`; the lanes then walk
// the next steps as usual.
//
// Exactly once as in the walk: the chunk's rows stay locked (skip locked, unleased ones only)
// until the transaction that records them commits, the step log's primary key refuses a step
// twice and an event is only written with its step log row. Runs whose wake depends on more
// than the clock are not picked (a deleted contact ends the run instead) or not moved (a
// version that does not parse fails its runs): the walk takes those.
import { catalogue, topicOf } from '@mauntic/kernel';
import { type Executor, OUTBOX_CHANNEL, rowsOf } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { contacts, journeys, outbox, runs, stepLog } from '../../db/schema.ts';
import type { StepId } from '../../domain/definition.ts';
import { RUNS_CHANNEL, UUID_V7 } from './enter.ts';

export interface PickedDelay {
  id: string;
  versionId: string;
  stepId: StepId;
}

/** A delay step of a version the walk would complete on the clock alone, and where it leads. */
export interface WakeableDelay {
  versionId: string;
  version: number;
  stepId: StepId;
  next: StepId;
}

/** Locks up to `limit` due delays of active journeys, oldest due first, that no executor holds. */
export async function pickDueDelays(tx: Executor, now: Date, limit: number): Promise<PickedDelay[]> {
  const rows = await tx.execute(sql`
    select r.id, r.version_id, r.step_id from ${runs} r join ${journeys} j on j.id = r.journey_id
    where r.state = 'waiting' and r.due_at <= ${now.toISOString()}::timestamptz and j.status = 'active'
      and r.wait ->> 'kind' = 'delay' and (r.lease_until is null or r.lease_until < now())
      and not exists (select 1 from ${contacts} c
        where c.id = r.contact_id and c.organization_id = r.organization_id and c.deleted)
    order by r.due_at limit ${limit}
    for update of r skip locked`);
  return rowsOf<{ id: string; version_id: string; step_id: string }>(rows).map((r) => ({
    id: r.id,
    versionId: r.version_id,
    stepId: r.step_id,
  }));
}

/**
 * Completes the picked delays that are wakeable, as the walk would at `now`: the step log row
 * (its visit, `waitedUntil` the due time), journey.step.completed, and the run ready at the next
 * step's next visit, its lease cleared. Returns the steps logged.
 */
export async function completeDelays(
  tx: Executor,
  picked: string[],
  wakeable: WakeableDelay[],
  now: Date,
): Promise<number> {
  const at = now.toISOString();
  const event = catalogue.journey.stepCompleted;
  const iso = (column: string) => sql.raw(`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
  const result = await tx.execute(sql`
    with woken as (
      select r.id, r.organization_id, r.journey_id, r.version_id, r.contact_id, r.step_id, r.visit, r.due_at,
        w.next, w.version,
        -- The next step's visit: one more than it was logged, counting this one when a delay leads to itself.
        greatest(
          (select max(l.visit) from ${stepLog} l where l.run_id = r.id and l.step_id = w.next),
          case when w.next = r.step_id then r.visit end, 0) + 1 as next_visit
      from ${runs} r
        join json_to_recordset(${JSON.stringify(wakeable)}::json)
          as w("versionId" uuid, version int, "stepId" text, next text)
          on w."versionId" = r.version_id and w."stepId" = r.step_id
      where r.id = any(${`{${picked.join(',')}}`}::uuid[])
    ), moved as (
      update ${runs} r set state = 'ready', step_id = w.next, visit = w.next_visit, due_at = null, wait = null,
        lease_owner = null, lease_until = null
      from woken w where r.id = w.id
      returning r.id
    ), logged as (
      insert into ${stepLog} (run_id, step_id, visit, organization_id, journey_id, status, outcome, at)
      select id, step_id, visit, organization_id, journey_id, 'completed',
        jsonb_build_object('waitedUntil', ${iso('due_at')}), ${at}::timestamptz
      from woken order by due_at
      on conflict do nothing
      returning run_id
    ), events as (
      insert into ${outbox} (id, organization_id, topic, key, type, envelope)
      select ev.id, ev.organization_id, ${topicOf('journey')}, ev.contact_id::text, ${event.type},
        -- The envelope createEvent makes, field for field and in its order (see the walk's record()).
        json_build_object('id', ev.id, 'type', ${event.type}::text, 'version', ${event.version}::int,
          'organizationId', ev.organization_id, 'occurredAt', ${at}::text, 'correlationId', ev.run_id,
          'subject', json_build_object('type', ${event.subjectType}::text, 'id', ev.contact_id),
          'data', json_build_object('runId', ev.run_id, 'journeyId', ev.journey_id, 'versionId', ev.version_id,
            'version', ev.version, 'stepId', ev.step_id, 'stepType', 'delay', 'visit', ev.visit, 'status', 'completed',
            'outcome', json_build_object('waitedUntil', ${iso('ev.due_at')})))
      from (select ${UUID_V7} as id, w.id as run_id, w.organization_id, w.journey_id, w.version_id, w.version,
          w.contact_id, w.step_id, w.visit, w.due_at
        from woken w join logged l on l.run_id = w.id) ev
      order by ev.due_at
      returning 1
    )
    -- (Data-modifying parts run whether read or not.) The relay and the lanes are woken once.
    select (select count(*) from logged)::int as logged
    where (select count(*) from (select pg_notify(${OUTBOX_CHANNEL}, 'journey'), pg_notify(${RUNS_CHANNEL}, '')) n) = 1`);
  return rowsOf<{ logged: number }>(result)[0]!.logged;
}
