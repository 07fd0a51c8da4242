// Contacts entering a journey, set-based: one statement inserts a `ready` run for every contact
// the entry rule lets in, its entry key, and its journey.run.started event, and wakes the
// steppers. Triggers, enrollment and enter-journey steps all come through here, so every way in
// honours the same rule:
//   once        one entry key per contact, ever;
//   oncePer     one key per contact, renewed only once the period since the last entry is over;
//   oneActive   one key per contact, renewed only once the run it names has ended;
//   everyTime   no key: every trigger enters.
import { catalogue, topicOf } from '@mauntic/kernel';
import { type Executor, rowsOf, traceparentOf, UUID_V7_SQL } from '@mauntic/platform';
import { type SQL, sql } from 'drizzle-orm';
import { entries, outbox, runs } from '../../db/schema.ts';
import { durationMs, type EntryRule } from '../../domain/definition.ts';

/** The channel a stepper listens on: new ready runs. */
export const RUNS_CHANNEL = 'mauntic_journey_runs';

/** A uuid v7 made in SQL, so ids sort by creation like newId()'s. */
export const UUID_V7 = UUID_V7_SQL;

export interface EntryTarget {
  organizationId: string;
  journeyId: string;
  versionId: string;
  version: number;
  start: string;
  entryRule: EntryRule;
}

export interface Entry {
  target: EntryTarget;
  /** A query whose rows are the entering contacts' ids (`contact_id`), scoped to the organization. */
  contacts: SQL;
  /** What brought them: segmentEntered, event, dateField, schedule, api, enterJourney. */
  trigger: string;
  /** The run's data: templates read it. */
  data: Record<string, unknown>;
  now: Date;
  correlationId: string;
  /**
   * An extra key each contact enters under at most once, whatever the rule: a date trigger's
   * occurrence (`dateField:0:2026-12-07`), so a scan that runs twice enters nobody twice.
   */
  occurrence?: string;
  /**
   * The trace the runs continue (tracing on), kept on each run; default: the active context's
   * (the event or request that entered them).
   */
  traceParent?: string | null;
}

/** Inserts the runs; returns the new runs' ids with their contacts. */
export async function enterContacts(tx: Executor, entry: Entry): Promise<{ runId: string; contactId: string }[]> {
  const { target, now } = entry;
  const traceParent = entry.traceParent !== undefined ? entry.traceParent : (traceparentOf() ?? null);
  // Tracing on: the run.started events carry the trace too.
  const traced = traceParent ? sql`, 'traceparent', ${traceParent}::text` : sql``;
  const rows = await tx.execute(sql`
    with candidates as (
      select c.contact_id, ${UUID_V7} as run_id from (select distinct contact_id from (${entry.contacts}) s) c
    ), once_per_occurrence as (${occurrenceFilter(entry)}
    ), admitted as (${ruleStatement(entry)}
    ), inserted as (
      insert into ${runs} (id, organization_id, journey_id, version_id, contact_id, state, step_id, visit, data, entered_at,
        trace_parent)
      select run_id, ${target.organizationId}, ${target.journeyId}, ${target.versionId}, contact_id, 'ready',
        ${target.start}, 1, ${JSON.stringify(entry.data)}::jsonb, ${now.toISOString()}::timestamptz, ${traceParent}::text
      from admitted
      returning id, contact_id
    ), events as (
      insert into ${outbox} (id, organization_id, topic, key, type, envelope)
      select ev.id, ${target.organizationId}, ${topicOf('journey')}, ev.contact_id::text, ${catalogue.journey.runStarted.type},
        json_build_object('id', ev.id, 'type', ${catalogue.journey.runStarted.type}::text, 'version', 1,
          'organizationId', ${target.organizationId}::text, 'occurredAt', ${now.toISOString()}::text,
          'correlationId', ${entry.correlationId}::text,
          'subject', json_build_object('type', 'contact', 'id', ev.contact_id),
          'data', json_build_object('runId', ev.run_id, 'journeyId', ${target.journeyId}::text,
            'versionId', ${target.versionId}::text, 'version', ${target.version}::int, 'trigger', ${entry.trigger}::text)${traced})
      from (select ${UUID_V7} as id, id as run_id, contact_id from inserted) ev
      returning 1
    )
    -- Uncorrelated scalar subqueries run once (the events written, the steppers woken), not per row.
    select i.id as run_id, i.contact_id from inserted i
    where (select count(*) from events) >= 0 and (select count(*) from (select pg_notify(${RUNS_CHANNEL}, '')) n) = 1`);
  return rowsOf<{ run_id: string; contact_id: string }>(rows).map((r) => ({
    runId: r.run_id,
    contactId: r.contact_id,
  }));
}

/** The candidates not yet entered under this occurrence's key (all of them without one). */
function occurrenceFilter(entry: Entry): SQL {
  const { target, now } = entry;
  if (!entry.occurrence) return sql`select contact_id, run_id from candidates`;
  return sql`
      insert into ${entries} (journey_id, contact_id, period_key, organization_id, run_id, created_at)
      select ${target.journeyId}, contact_id, ${entry.occurrence}, ${target.organizationId}, run_id, ${now.toISOString()}::timestamptz
      from candidates
      on conflict do nothing
      returning contact_id, run_id`;
}

function ruleStatement(entry: Entry): SQL {
  const { target, now } = entry;
  const rule = target.entryRule;
  if (rule.kind === 'everyTime') return sql`select contact_id, run_id from once_per_occurrence`;
  const key = rule.kind === 'once' ? 'once' : rule.kind === 'oncePer' ? 'last' : 'active';
  const insert = sql`
      insert into ${entries} as e (journey_id, contact_id, period_key, organization_id, run_id, created_at)
      select ${target.journeyId}, contact_id, ${key}, ${target.organizationId}, run_id, ${now.toISOString()}::timestamptz
      from once_per_occurrence`;
  switch (rule.kind) {
    case 'once':
      return sql`${insert} on conflict do nothing returning contact_id, run_id`;
    case 'oncePer': {
      const since = new Date(now.getTime() - durationMs(rule.period)!).toISOString();
      return sql`${insert}
      on conflict (journey_id, contact_id, period_key) do update set run_id = excluded.run_id, created_at = excluded.created_at
        where e.created_at <= ${since}::timestamptz
      returning contact_id, run_id`;
    }
    case 'oneActive':
      return sql`${insert}
      on conflict (journey_id, contact_id, period_key) do update set run_id = excluded.run_id, created_at = excluded.created_at
        where not exists (select 1 from ${runs} r where r.id = e.run_id and r.state in ('ready', 'waiting'))
      returning contact_id, run_id`;
  }
}
