// The set-based statements of one import batch: its valid rows upserted by email together with
// their created/updated events, and its rejected rows recorded for the error report.
import { catalogue, topicOf } from '@mauntic/kernel';
import { UUID_V7_SQL } from '@mauntic/platform';
import { sql } from 'drizzle-orm';

/** A valid row as the batch statement reads it (snake_case, only what the row gives). */
export type BatchRow = Record<string, unknown> & { n: number; id: string; event_id: string; email: string };

/** What every statement of an import's batches shares. */
export interface BatchTarget {
  organizationId: string;
  importId: string;
  correlationId: string;
  /** Who runs the import, as the stage history names it. */
  actor: string | null;
  /** Added to every contact of the import. */
  tags: string[];
  /** The standard columns the mapping fills (snake_case); only these change on an existing contact. */
  mappedColumns: string[];
}

/** A rejected row: its number in the file, what is wrong with it, and its text. */
export interface RowError {
  n: number;
  m: string[];
  raw: string;
}

/**
 * One batch: contacts upserted and their events written in a single statement, stage moves with
 * their history rows and crm.contact.stage-changed events. Ids (a new
 * contact's, each event's) come with the rows from here, and each envelope is built as JSON text
 * (the outbox keeps it as written), never parsed into jsonb.
 */
export function upsertBatchSql(batch: BatchTarget, rows: BatchRow[]) {
  const { organizationId, correlationId, mappedColumns, tags } = batch;
  const topic = topicOf('crm');
  const created = catalogue.crm.contactCreated.type;
  const updated = catalogue.crm.contactUpdated.type;
  const stageChanged = catalogue.crm.contactStageChanged.type;
  const occurredAt = new Date().toISOString();
  // Only the mapped columns change on an existing contact; an empty cell keeps its value.
  const sets = mappedColumns.filter((c) => c !== 'email').map((c) => sql.raw(`${c} = coalesce(excluded.${c}, c.${c})`));
  if (tags.length)
    sets.push(sql.raw(`tags = array(select distinct t from unnest(c.tags || excluded.tags) t order by t)`));
  sets.push(sql.raw(`fields = c.fields || excluded.fields`), sql.raw(`updated_at = now()`));
  return sql`
    with input as (
      select * from json_to_recordset(${JSON.stringify(rows)}::json) as r(
        n int, id uuid, event_id uuid, email text, first_name text, last_name text, phone text, timezone text,
        locale text, owner_id uuid, stage_id uuid, points int, fields jsonb, changed text[])
    ), latest as (
      -- The same address twice in one batch: the later row wins.
      select distinct on (lower(email)) * from input order by lower(email), n desc
    ), prior as (
      -- The stages before the batch: every part of one statement sees the same snapshot.
      select c.id, c.stage_id from crm.contacts c
      where c.organization_id = ${organizationId} and lower(c.email) in (select lower(email) from latest)
    ), upserted as (
      insert into crm.contacts as c (id, organization_id, email, first_name, last_name, phone, timezone, locale,
        owner_id, stage_id, points, fields, tags)
      select id, ${organizationId}, email, first_name, last_name, phone, timezone, locale,
        owner_id, stage_id, coalesce(points, 0), coalesce(fields, '{}'::jsonb),
        array(select jsonb_array_elements_text(${JSON.stringify(tags)}::jsonb))
      from latest
      on conflict (organization_id, lower(email)) where email is not null do update set ${sql.join(sets, sql`, `)}
      returning c.*, (c.xmax = 0) as created
    ), events as (
      insert into crm.outbox (id, organization_id, topic, key, type, envelope)
      select ev.id, ${organizationId}, ${topic}, ev.contact_id::text, ev.type, json_build_object(
        'id', ev.id, 'type', ev.type, 'version', 1, 'organizationId', ${organizationId}::text,
        'occurredAt', ${occurredAt}::text, 'correlationId', ${correlationId}::text,
        'subject', json_build_object('type', 'contact', 'id', ev.contact_id::text),
        'data', case when ev.created then json_build_object('contact', ev.snapshot)
          else json_build_object('contact', ev.snapshot, 'changed', ev.changed) end)
      from (
        select l.event_id as id, u.id as contact_id, u.created,
          case when u.created then ${created}::text else ${updated}::text end as type,
          case when ${tags.length > 0} then array_append(l.changed, 'tags') else l.changed end as changed,
          json_build_object('email', u.email, 'firstName', u.first_name, 'lastName', u.last_name,
            'phone', u.phone, 'timezone', u.timezone, 'locale', u.locale, 'ownerId', u.owner_id,
            'stageId', u.stage_id, 'points', u.points, 'tags', to_json(u.tags), 'fields', u.fields) as snapshot
        from upserted u join latest l on lower(l.email) = lower(u.email)
      ) ev
      returning 1
    ), moves as (
      select ${UUID_V7_SQL} as id, ${UUID_V7_SQL} as event_id, u.id as contact_id,
        p.stage_id as from_stage_id, u.stage_id as to_stage_id
      from upserted u left join prior p on p.id = u.id
      where u.stage_id is distinct from p.stage_id
    ), history as (
      insert into crm.stage_changes (id, organization_id, contact_id, from_stage_id, to_stage_id, reason, actor)
      select id, ${organizationId}, contact_id, from_stage_id, to_stage_id, 'import', ${batch.actor}::text from moves
      returning 1
    ), stage_events as (
      insert into crm.outbox (id, organization_id, topic, key, type, envelope)
      select m.event_id, ${organizationId}, ${topic}, m.contact_id::text, ${stageChanged}::text, json_build_object(
        'id', m.event_id, 'type', ${stageChanged}::text, 'version', 1, 'organizationId', ${organizationId}::text,
        'occurredAt', ${occurredAt}::text, 'correlationId', ${correlationId}::text,
        'subject', json_build_object('type', 'contact', 'id', m.contact_id::text),
        'data', json_build_object('fromStageId', m.from_stage_id, 'toStageId', m.to_stage_id, 'reason', 'import'))
      from moves m
      returning 1
    )
    select (select count(*) from upserted where created)::int as created,
      (select count(*) from upserted where not created)::int as updated`;
}

/** The batch's rejected rows, each with its row number, its messages and (part of) its text. */
export const errorsSql = (batch: BatchTarget, errors: RowError[]) => sql`
  insert into crm.contact_import_errors (organization_id, import_id, row_number, messages, raw)
  select ${batch.organizationId}, ${batch.importId}, e.n, array(select jsonb_array_elements_text(e.m)), e.raw
  from jsonb_to_recordset(${JSON.stringify(errors)}::jsonb) as e(n int, m jsonb, raw text)
  on conflict do nothing`;

/** The import's counters after a batch, and how far into the file it has read. */
export const progressSql = (
  batch: BatchTarget,
  done: { valid: number; failed: number; created: number; updated: number; bytesRead: number },
) => sql`
  update crm.contact_imports set rows_done = rows_done + ${done.valid}, rows_failed = rows_failed + ${done.failed},
    rows_created = rows_created + ${done.created}, rows_updated = rows_updated + ${done.updated},
    bytes_read = greatest(bytes_read, ${done.bytesRead})
  where id = ${batch.importId} and organization_id = ${batch.organizationId}
  returning rows_done, rows_failed, rows_created, rows_updated, bytes_read, total_bytes`;
