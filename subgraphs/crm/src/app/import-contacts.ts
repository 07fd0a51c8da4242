// The contact import engine: streams a CSV through csv-parse, checks each row like any other
// contact write, and upserts valid rows by email in batches of one set-based statement each
// (contacts and their created/updated events together). Rejected rows go to an error table with
// their row number; progress is stored per batch; dynamic segments are rebuilt once at the end.
import type { Readable } from 'node:stream';
import { pipeline, Transform } from 'node:stream';
import {
  authorize,
  catalogue,
  createEvent,
  type FieldIssue,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  topicOf,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, OUTBOX_CHANNEL, rowsOf } from '@mauntic/platform';
import { parse } from 'csv-parse';
import { eq, sql } from 'drizzle-orm';
import { outbox, stages } from '../db/schema.ts';
import type { FieldDefinition } from '../domain/field-types.ts';
import { type ContactInput, checkContactInput, normalizeTag } from './contact-values.ts';
import { contactFieldMap } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { dependencyLevels, loadDynamicSegments, rebuildSegment, segmentLockKey } from './segment-membership.ts';

/** Standard contact properties a CSV column can fill, with their columns. */
export const IMPORT_TARGETS = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  phone: 'phone',
  timezone: 'timezone',
  locale: 'locale',
  ownerId: 'owner_id',
  stageId: 'stage_id',
  points: 'points',
} as const;
type StandardTarget = keyof typeof IMPORT_TARGETS;

export const DEFAULT_BATCH_SIZE = 5000;
export const DEFAULT_LANES = 3;
/** A row larger than this is rejected (and reported) instead of imported. */
export const MAX_ROW_CHARS = 1024 * 1024;
/** Past this, a "row" is a broken file (e.g. a quote never closed), and the import stops. */
const HARD_RECORD_LIMIT = 32 * 1024 * 1024;
/** How much of a rejected row the error report keeps. */
const MAX_RAW_KEPT = 10_000;
const INT32_MAX = 2_147_483_647;

export interface ImportRequest {
  importId: string;
  source: Readable;
  /** CSV column -> `email`, `firstName`, ... or `fields.<key>`. Unmapped columns are ignored. */
  mapping: Record<string, string>;
  /** Added to every imported contact. */
  tags?: string[];
  /** Size of the source, when known, for the percentage. */
  totalBytes?: number | null;
  batchSize?: number;
  /** Batches written at once (each on its own connection). */
  lanes?: number;
}

export interface ImportSummary {
  importId: string;
  status: 'completed' | 'failed';
  rowsDone: number;
  rowsFailed: number;
  rowsCreated: number;
  rowsUpdated: number;
  /** Why the whole import stopped, when it did. */
  error: string | null;
}

/** Problems with a mapping, against the organization's contact fields. */
export function checkMapping(
  mapping: unknown,
  definitions: Map<string, FieldDefinition>,
  root: string[] = ['input', 'mapping'],
): FieldIssue[] {
  if (typeof mapping !== 'object' || mapping === null || Array.isArray(mapping))
    return [{ path: root, message: 'must be an object of CSV column names to contact fields' }];
  const issues: FieldIssue[] = [];
  const seen = new Map<string, string>();
  for (const [column, target] of Object.entries(mapping)) {
    const path = [...root, column];
    if (typeof target !== 'string') {
      issues.push({ path, message: 'must name a contact field' });
      continue;
    }
    if (target.startsWith('fields.')) {
      if (!definitions.has(target.slice('fields.'.length)))
        issues.push({ path, message: `${target} is not a contact field of this organization` });
    } else if (!(target in IMPORT_TARGETS)) {
      issues.push({
        path,
        message: `${target} is not a contact field; use one of ${Object.keys(IMPORT_TARGETS).join(', ')} or fields.<key>`,
      });
    }
    const other = seen.get(target);
    if (other !== undefined) issues.push({ path, message: `${target} is already filled by column ${other}` });
    seen.set(target, column);
  }
  if (!Object.values(mapping).includes('email'))
    issues.push({ path: root, message: 'one column must map to email: contacts are matched by email' });
  return issues;
}

interface ParsedRow {
  row: number;
  /** The row's cells, in the header's order. */
  values: string[];
  raw: string;
  ragged: boolean;
}

/** A mapped column: its name, the contact field it fills, and its position in the header. */
type MappedColumn = [column: string, target: string, index: number];

/** A valid row as the batch statement reads it (snake_case, only what the row gives). */
type BatchRow = Record<string, unknown> & { n: number; id: string; event_id: string; email: string };
interface RowError {
  n: number;
  m: string[];
  raw: string;
}

/** FNV-1a of the lower-cased address: which lane a row takes. */
function laneOf(email: string, lanes: number): number {
  const key = email.toLowerCase();
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

const keepRaw = (raw: string) =>
  (raw.length > MAX_RAW_KEPT ? `${raw.slice(0, MAX_RAW_KEPT)}…` : raw).replaceAll('\0', '').replace(/\r?\n$/, '');

function convertRow(
  parsed: ParsedRow,
  mapping: MappedColumn[],
  definitions: Map<string, FieldDefinition>,
  stageIds: Set<string>,
  columnOf: Map<string, string>,
): BatchRow | RowError {
  const { row, values: cells, raw } = parsed;
  const fail = (messages: string[]): RowError => ({ n: row, m: messages, raw: keepRaw(raw) });
  if (raw.length > MAX_ROW_CHARS) return fail([`the row is larger than ${MAX_ROW_CHARS / 1024 / 1024} MB`]);
  if (parsed.ragged) return fail(['the row does not have as many fields as the header']);
  if (raw.includes('\0')) return fail(['the row contains a NUL character']);
  const input: ContactInput = {};
  const fields: Record<string, unknown> = {};
  let points: number | undefined;
  const messages: string[] = [];
  for (const [column, target, index] of mapping) {
    const value = cells[index];
    // An empty cell leaves the contact's value as it is.
    if (value === undefined || value === '') continue;
    if (target.startsWith('fields.')) fields[target.slice(7)] = value;
    else if (target === 'points') {
      if (/^-?\d{1,10}$/.test(value) && Math.abs(Number(value)) <= INT32_MAX) points = Number(value);
      else messages.push(`${column}: points must be a whole number`);
    } else input[target as Exclude<StandardTarget, 'points'>] = value;
  }
  if (Object.keys(fields).length) input.fields = fields;
  const { values, issues } = checkContactInput(input, definitions, [], { creating: false });
  for (const issue of issues) {
    const target = issue.path.join('.');
    messages.push(`${columnOf.get(target) ?? target}: ${target} ${issue.message}`);
  }
  if (!values.email && !issues.some((i) => i.path[0] === 'email'))
    messages.push(`${columnOf.get('email')}: email is required`);
  if (values.stageId && !stageIds.has(values.stageId))
    messages.push(`${columnOf.get('stageId')}: stageId is not a stage of this organization`);
  if (messages.length) return fail(messages);

  const out: BatchRow = { n: row, id: newId(), event_id: newId(), email: values.email! };
  const changed: string[] = [];
  for (const [key, column] of Object.entries(IMPORT_TARGETS)) {
    if (key === 'email' || key === 'points') continue;
    const v = values[key as keyof typeof values];
    if (v !== undefined && v !== null) {
      (out as Record<string, unknown>)[column] = v;
      changed.push(key === 'ownerId' ? 'owner' : key === 'stageId' ? 'stage' : key);
    }
  }
  if (points !== undefined) {
    out.points = points;
    changed.push('points');
  }
  if (values.fields) {
    out.fields = values.fields;
    for (const key of Object.keys(values.fields)) changed.push(`fields.${key}`);
  }
  out.changed = changed;
  return out;
}

/**
 * One batch: contacts upserted and their events written in a single statement. Ids (a new
 * contact's, each event's) come with the rows from here, and each envelope is built as JSON text
 * (the outbox keeps it as written), never parsed into jsonb.
 */
function upsertBatchSql(
  organizationId: string,
  correlationId: string,
  mappedColumns: string[],
  tags: string[],
  rows: BatchRow[],
) {
  const topic = topicOf('crm');
  const created = catalogue.crm.contactCreated.type;
  const updated = catalogue.crm.contactUpdated.type;
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
    )
    select (select count(*) from upserted where created)::int as created,
      (select count(*) from upserted where not created)::int as updated`;
}

const errorsSql = (organizationId: string, importId: string, errors: RowError[]) => sql`
  insert into crm.contact_import_errors (organization_id, import_id, row_number, messages, raw)
  select ${organizationId}, ${importId}, e.n, array(select jsonb_array_elements_text(e.m)), e.raw
  from jsonb_to_recordset(${JSON.stringify(errors)}::jsonb) as e(n int, m jsonb, raw text)
  on conflict do nothing`;

/**
 * Imports contacts from a CSV stream into the caller's organization. Row problems are recorded,
 * not thrown; a file that cannot be read as CSV ends the import as failed.
 */
export async function importContacts(deps: CrmDeps, ctx: RequestContext, request: ImportRequest) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const { importId } = request;
  const tags = [...new Set((request.tags ?? []).map(normalizeTag).filter(Boolean))];
  const started = await deps.handle.rows<{ id: string }>(sql`
    insert into crm.contact_imports as i (id, organization_id, status, mapping, tags, total_bytes)
    values (${importId}, ${organizationId}, 'running', ${JSON.stringify(request.mapping)}::jsonb,
      array(select jsonb_array_elements_text(${JSON.stringify(tags)}::jsonb)), ${request.totalBytes ?? null})
    on conflict (id) do update set status = 'running', total_bytes = coalesce(excluded.total_bytes, i.total_bytes)
      where i.organization_id = ${organizationId}
    returning id`);
  if (started.length === 0) return fail(new NotFoundError('ContactImport', importId));

  const finish = async (summary: Omit<ImportSummary, 'importId'>) => {
    await deps.handle.db.execute(sql`
      update crm.contact_imports set status = ${summary.status}, error = ${summary.error}, finished_at = now(),
        bytes_read = case when ${summary.status} = 'completed' then coalesce(total_bytes, bytes_read) else bytes_read end
      where id = ${importId} and organization_id = ${organizationId}`);
    return { importId, ...summary };
  };

  const definitions = await contactFieldMap(deps, organizationId);
  const mappingIssues = checkMapping(request.mapping, definitions, ['mapping']);
  if (mappingIssues.length) {
    const error = new ValidationError(mappingIssues);
    await finish({
      status: 'failed',
      error: error.message,
      rowsDone: 0,
      rowsFailed: 0,
      rowsCreated: 0,
      rowsUpdated: 0,
    });
    return fail(error);
  }
  const stageIds = new Set(
    (await deps.handle.db.select({ id: stages.id }).from(stages).where(eq(stages.organizationId, organizationId))).map(
      (s) => s.id,
    ),
  );
  const mapping = Object.entries(request.mapping);
  const columnOf = new Map(mapping.map(([column, target]) => [target, column]));
  const mappedColumns = mapping.flatMap(([, t]) => (t in IMPORT_TARGETS ? [IMPORT_TARGETS[t as StandardTarget]] : []));
  const batchSize = request.batchSize ?? DEFAULT_BATCH_SIZE;

  let bytesRead = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytesRead += chunk.length;
      done(null, chunk);
    },
  });
  // Records come as arrays with their raw text: csv-parse's own column mapping and per-record
  // callback cost more than the parsing itself. A row's number counts the records csv-parse
  // skipped as invalid CSV before it; each skip notes how many data rows had come out by then.
  const skipped: RowError[] = [];
  const skipMarks: number[] = [];
  const parser = parse({
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
    raw: true,
    max_record_size: HARD_RECORD_LIMIT,
    skip_records_with_error: true,
    on_skip: (error, raw) => {
      const dataRows = Math.max(0, parser.info.records - 1);
      const n = dataRows + skipMarks.length + 1;
      if (error?.code === 'CSV_MAX_RECORD_SIZE')
        throw new Error(`row ${n} is larger than ${HARD_RECORD_LIMIT / 1024 / 1024} MB; is a quote left open?`);
      skipMarks.push(dataRows);
      skipped.push({ n, m: [error?.message ?? 'the row is not valid CSV'], raw: keepRaw(raw ?? '') });
    },
  });
  const records = pipeline(request.source, counter, parser, () => {}) as unknown as AsyncIterable<{
    record: string[];
    raw: string;
  }>;
  let header: string[] | undefined;
  let mapped: MappedColumn[] = [];
  let dataRows = 0;
  let skipsPassed = 0;
  /** The header is checked against the mapping; every later record becomes a numbered row. */
  const rowOf = ({ record, raw }: { record: string[]; raw: string }): ParsedRow | undefined => {
    if (!header) {
      header = record;
      const missing = mapping.map(([column]) => column).filter((c) => !record.includes(c));
      if (missing.length) throw new Error(`the file has no column ${missing.map((c) => `"${c}"`).join(', ')}`);
      mapped = mapping.map(([column, target]) => [column, target, record.indexOf(column)]);
      return undefined;
    }
    dataRows += 1;
    while (skipsPassed < skipMarks.length && skipMarks[skipsPassed]! < dataRows) skipsPassed += 1;
    return { row: dataRows + skipsPassed, values: record, raw, ragged: record.length !== header.length };
  };

  const totals = { rowsDone: 0, rowsFailed: 0, rowsCreated: 0, rowsUpdated: 0 };
  const writeBatch = async (valid: BatchRow[], errors: RowError[], bytes: number) => {
    await deps.handle.db.transaction(async (tx) => {
      let created = 0;
      let updated = 0;
      if (valid.length) {
        const [counts] = rowsOf<{ created: number; updated: number }>(
          await tx.execute(upsertBatchSql(organizationId, ctx.correlationId, mappedColumns, tags, valid)),
        );
        created = counts?.created ?? 0;
        updated = counts?.updated ?? 0;
        await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, 'crm')`);
      }
      if (errors.length) await tx.execute(errorsSql(organizationId, importId, errors));
      await tx.execute(sql`
        update crm.contact_imports set rows_done = rows_done + ${valid.length}, rows_failed = rows_failed + ${errors.length},
          rows_created = rows_created + ${created}, rows_updated = rows_updated + ${updated}, bytes_read = greatest(bytes_read, ${bytes})
        where id = ${importId} and organization_id = ${organizationId}`);
      totals.rowsDone += valid.length;
      totals.rowsFailed += errors.length;
      totals.rowsCreated += created;
      totals.rowsUpdated += updated;
    });
  };

  // Rows are spread over lanes by email, each lane writing one batch at a time on its own
  // connection while parsing goes on. The same address always takes the same lane, so its
  // rows apply in file order and two lanes never wait on each other's contacts.
  const lanes = Array.from({ length: request.lanes ?? DEFAULT_LANES }, () => ({
    valid: [] as BatchRow[],
    errors: [] as RowError[],
    inflight: Promise.resolve(),
  }));
  const flush = async (lane: (typeof lanes)[number]) => {
    await lane.inflight;
    lane.inflight = writeBatch(lane.valid, lane.errors, bytesRead);
    lane.inflight.catch(() => {});
    lane.valid = [];
    lane.errors = [];
  };
  // A file that is not CSV (or lacks a mapped column) ends the import as failed; that is its
  // outcome, not a crash. A database failure is unexpected and goes up once the import is marked.
  let unreadable: Error | undefined;
  try {
    const iterator = records[Symbol.asyncIterator]();
    for (;;) {
      let parsed: ParsedRow | undefined;
      try {
        const next = await iterator.next();
        if (next.done) break;
        parsed = rowOf(next.value);
      } catch (error) {
        unreadable = error instanceof Error ? error : new Error(String(error));
        await iterator.return?.(); // stops reading the source
        break;
      }
      if (!parsed) continue;
      const converted = convertRow(parsed, mapped, definitions, stageIds, columnOf);
      const lane = lanes['email' in converted ? laneOf(converted.email, lanes.length) : converted.n % lanes.length]!;
      if ('email' in converted) lane.valid.push(converted);
      else lane.errors.push(converted);
      if (skipped.length) lane.errors.push(...skipped.splice(0));
      if (lane.valid.length + lane.errors.length >= batchSize) await flush(lane);
    }
    lanes[0]!.errors.push(...skipped.splice(0));
    for (const lane of lanes) await flush(lane);
    for (const lane of lanes) await lane.inflight;
  } catch (error) {
    await Promise.allSettled(lanes.map((lane) => lane.inflight));
    await finish({ status: 'failed', error: error instanceof Error ? error.message : String(error), ...totals });
    throw error;
  }

  if (totals.rowsDone > 0) await rebuildDynamicSegments(deps, organizationId, ctx.correlationId);
  return ok<ImportSummary>(
    await finish(
      unreadable
        ? { status: 'failed', error: unreadable.message, ...totals }
        : { status: 'completed', error: null, ...totals },
    ),
  );
}

/** Every dynamic segment of the organization rebuilt once, dependencies first. */
async function rebuildDynamicSegments(deps: CrmDeps, organizationId: string, correlationId: string) {
  const all = await loadDynamicSegments(deps.handle.db, organizationId);
  for (const level of dependencyLevels(all))
    for (const segment of level)
      await deps.handle.db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${segmentLockKey(segment.row.id)}))`);
        const stats = await rebuildSegment(tx, deps, segment, correlationId);
        await appendEvents(tx, outbox, [
          createEvent(catalogue.crm.segmentRebuilt, {
            organizationId,
            subjectId: segment.row.id,
            correlationId,
            data: stats,
          }),
        ]);
      });
}
