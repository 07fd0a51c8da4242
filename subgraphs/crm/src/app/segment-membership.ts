// Keeping segment membership current. A full rebuild is set-based: a read-only diff, then one
// statement applying it. A change to some contacts re-evaluates only the segments whose filters
// read what changed (and, wave after wave, the segments built on those), for those contacts
// only. Entering and leaving a segment are events, written to the outbox in the same transaction.
import {
  catalogue,
  createEvent,
  type EventEnvelope,
  fail,
  type Result,
  topicOf,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor, OUTBOX_CHANNEL, rowsOf } from '@mauntic/platform';
import { and, eq, inArray, type SQL, sql } from 'drizzle-orm';
import { contacts, fieldDefinitions, outbox, segmentMembers, segments } from '../db/schema.ts';
import { compileFilter } from '../db/segment-sql.ts';
import type { FieldDefinition } from '../domain/field-types.ts';
import { type FilterNode, referencedFields, referencedSegments } from '../domain/segment-filter.ts';
import { validateFilter } from '../domain/segment-filter-validation.ts';
import type { CrmDeps } from './deps.ts';
import { toDefinition } from './fields.ts';

export type SegmentRow = typeof segments.$inferSelect;

/** A dynamic segment not yet built for its filter: its member count is not the filter's yet. */
export const isBuilding = (segment: SegmentRow) => segment.kind === 'dynamic' && segment.rebuiltAt === null;

export interface LoadedSegment {
  row: SegmentRow;
  node: FilterNode;
  reads: Set<string>;
  dependsOn: string[];
}

export async function fieldDefinitionsOf(tx: Executor, organizationId: string): Promise<FieldDefinition[]> {
  const rows = await tx.select().from(fieldDefinitions).where(eq(fieldDefinitions.organizationId, organizationId));
  return rows.map(toDefinition);
}

/**
 * A filter a caller gives (to list, export or move contacts), checked against the organization's
 * fields and segments: a segment of another organization is as unknown as one that does not
 * exist. Issues are placed under `root`.
 */
export async function parseCallerFilter(
  tx: Executor,
  organizationId: string,
  filter: unknown,
  root: string[],
  known?: FieldDefinition[],
): Promise<Result<FilterNode, ValidationError>> {
  const fields = known ?? (await fieldDefinitionsOf(tx, organizationId));
  const rows = await tx.select({ id: segments.id }).from(segments).where(eq(segments.organizationId, organizationId));
  const ids = new Set(rows.map((r) => r.id));
  const parsed = validateFilter(filter, { fields, segmentExists: (id) => ids.has(id) });
  return parsed.ok
    ? parsed
    : fail(new ValidationError(parsed.error.issues.map((i) => ({ ...i, path: [...root, ...i.path] }))));
}

/** The organization's dynamic segments with their parsed filters. */
/** `fields`: the organization's field definitions, when the caller has them already. */
export async function loadDynamicSegments(
  tx: Executor,
  organizationId: string,
  known?: FieldDefinition[],
): Promise<LoadedSegment[]> {
  const all = await tx.select().from(segments).where(eq(segments.organizationId, organizationId));
  const rows = all.filter((r) => r.kind === 'dynamic');
  if (rows.length === 0) return [];
  const fields = known ?? (await fieldDefinitionsOf(tx, organizationId));
  const ids = new Set(all.map((r) => r.id));
  const loaded: LoadedSegment[] = [];
  for (const row of rows) {
    const parsed = validateFilter(row.filter, { fields, segmentExists: (id) => ids.has(id) });
    // A filter that no longer validates (e.g. its field changed) matches nobody until fixed.
    if (!parsed.ok) continue;
    loaded.push({
      row,
      node: parsed.value,
      reads: referencedFields(parsed.value),
      dependsOn: referencedSegments(parsed.value),
    });
  }
  return loaded;
}

const segmentEvent = (
  type: 'entered' | 'exited',
  organizationId: string,
  segmentId: string,
  contactId: string,
  correlationId: string,
): EventEnvelope =>
  createEvent(type === 'entered' ? catalogue.crm.segmentEntered : catalogue.crm.segmentExited, {
    organizationId,
    subjectId: contactId,
    correlationId,
    data: { segmentId },
  });

export interface Reevaluation {
  organizationId: string;
  contactIds: string[];
  /** Names of what changed (`email`, `fields.plan`, `tags`, `activities`, `dnc`...), or '*' for everything. */
  changed: string[] | '*';
  correlationId: string;
  /** The organization's field definitions, if already loaded (saves a query on every write). */
  fields?: FieldDefinition[];
}

export async function reevaluateMemberships(tx: Executor, deps: CrmDeps, change: Reevaluation): Promise<void> {
  if (change.contactIds.length === 0) return;
  const all = await loadDynamicSegments(tx, change.organizationId, change.fields);
  if (all.length === 0) return;
  const changed = change.changed === '*' ? undefined : new Set(change.changed);
  const direct = new Set(all.filter((s) => !changed || [...s.reads].some((n) => changed.has(n))).map((s) => s.row.id));
  const moved = new Set<string>();
  const now = deps.now();
  // Level by level, dependencies first: a segment built on another is evaluated only after
  // that one's membership for these contacts is settled, and only if it moved (or the change
  // touches what the segment itself reads).
  for (const level of dependencyLevels(all)) {
    const wave = level.filter((s) => direct.has(s.row.id) || s.dependsOn.some((id) => moved.has(id)));
    if (wave.length === 0) continue;
    for (const id of await evaluateWave(tx, change, wave, now)) moved.add(id);
  }
}

/** Segments grouped so each group depends only on earlier groups (cycles are refused on save). */
export function dependencyLevels(all: LoadedSegment[]): LoadedSegment[][] {
  const byId = new Map(all.map((s) => [s.row.id, s]));
  const level = new Map<string, number>();
  const depth = (s: LoadedSegment, seen: Set<string>): number => {
    const known = level.get(s.row.id);
    if (known !== undefined) return known;
    if (seen.has(s.row.id)) return 0;
    seen.add(s.row.id);
    let d = 0;
    for (const id of s.dependsOn) {
      const dep = byId.get(id);
      if (dep) d = Math.max(d, depth(dep, seen) + 1);
    }
    level.set(s.row.id, d);
    return d;
  };
  const levels: LoadedSegment[][] = [];
  for (const s of all) {
    const d = depth(s, new Set());
    levels[d] = [...(levels[d] ?? []), s];
  }
  return levels.filter(Boolean);
}

/**
 * A rebuild holds its segment's lock exclusively; re-evaluations share it. Without this, a
 * rebuild working from an older snapshot could undo a change committed while it ran.
 */
export const segmentLockKey = (segmentId: string) => `crm.segment.${segmentId}`;

async function evaluateWave(
  tx: Executor,
  change: Reevaluation,
  wave: LoadedSegment[],
  now: Date,
): Promise<Set<string>> {
  const { organizationId, contactIds, correlationId } = change;
  await tx.execute(
    sql`select pg_advisory_xact_lock_shared(hashtext(k)) from unnest(${sql`array[${sql.join(
      wave.map((s) => sql`${segmentLockKey(s.row.id)}`),
      sql`, `,
    )}]::text[]`}) as k`,
  );
  // Whether each contact matches each segment now, and whether it is a member now: one query.
  const columns: SQL[] = wave.flatMap((s, i) => {
    const predicate = compileFilter(s.node, { organizationId, now, timeZone: 'UTC', mode: 'single' });
    return [
      sql`coalesce((${predicate}), false) as ${sql.identifier(`s${i}`)}`,
      sql`exists (select 1 from ${segmentMembers} m where m.segment_id = ${s.row.id} and m.contact_id = ${contacts.id}) as ${sql.identifier(`m${i}`)}`,
    ];
  });
  const result = await tx.execute(
    sql`select ${contacts.id} as id, ${sql.join(columns, sql`, `)} from ${contacts}
        where ${contacts.organizationId} = ${organizationId} and ${contacts.id} in ${sqlList(contactIds)}`,
  );
  const evaluated = rowsOf<Record<string, unknown>>(result);

  const enter: { segmentId: string; contactId: string }[] = [];
  const exit: { segmentId: string; contactId: string }[] = [];
  for (const row of evaluated) {
    wave.forEach((s, i) => {
      const should = row[`s${i}`] === true;
      const is = row[`m${i}`] === true;
      if (should && !is) enter.push({ segmentId: s.row.id, contactId: String(row.id) });
      if (!should && is) exit.push({ segmentId: s.row.id, contactId: String(row.id) });
    });
  }
  if (enter.length)
    await tx
      .insert(segmentMembers)
      .values(enter.map((m) => ({ organizationId, ...m })))
      .onConflictDoNothing();
  for (const m of exit)
    await tx
      .delete(segmentMembers)
      .where(and(eq(segmentMembers.segmentId, m.segmentId), eq(segmentMembers.contactId, m.contactId)));
  const delta = new Map<string, number>();
  for (const m of enter) delta.set(m.segmentId, (delta.get(m.segmentId) ?? 0) + 1);
  for (const m of exit) delta.set(m.segmentId, (delta.get(m.segmentId) ?? 0) - 1);
  for (const [segmentId, d] of delta)
    await tx
      .update(segments)
      .set({ memberCount: sql`${segments.memberCount} + ${d}` })
      .where(eq(segments.id, segmentId));
  await appendEvents(tx, outbox, [
    ...enter.map((m) => segmentEvent('entered', organizationId, m.segmentId, m.contactId, correlationId)),
    ...exit.map((m) => segmentEvent('exited', organizationId, m.segmentId, m.contactId, correlationId)),
  ]);
  return new Set(delta.keys());
}

/** Takes contacts out of every segment (before they are deleted), with their exit events. */
export async function leaveAllSegments(
  tx: Executor,
  organizationId: string,
  contactIds: string[],
  correlationId: string,
) {
  const left = await tx
    .delete(segmentMembers)
    .where(and(eq(segmentMembers.organizationId, organizationId), inArray(segmentMembers.contactId, contactIds)))
    .returning({ segmentId: segmentMembers.segmentId, contactId: segmentMembers.contactId });
  const delta = new Map<string, number>();
  for (const m of left) delta.set(m.segmentId, (delta.get(m.segmentId) ?? 0) + 1);
  for (const [segmentId, d] of delta)
    await tx
      .update(segments)
      .set({ memberCount: sql`${segments.memberCount} - ${d}` })
      .where(eq(segments.id, segmentId));
  await appendEvents(
    tx,
    outbox,
    left.map((m) => segmentEvent('exited', organizationId, m.segmentId, m.contactId, correlationId)),
  );
}

export interface RebuildStats {
  added: number;
  removed: number;
  memberCount: number;
  tookMs: number;
}

/** The envelope of a segment event built in SQL, for set-based writes to the outbox. */
const envelopeSql = (organizationId: string, segmentId: string, correlationId: string, contactId: SQL) => sql`
  json_build_object(
    'id', ev.id, 'type', ev.type, 'version', 1, 'organizationId', ${organizationId}::text,
    'occurredAt', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'correlationId', ${correlationId}::text,
    'subject', json_build_object('type', 'contact', 'id', ${contactId}::text),
    'data', json_build_object('segmentId', ${segmentId}::text))`;

/** The temporary table a rebuild's diff is kept in, until the end of its transaction. */
const DIFF_TABLE = sql.raw('crm_segment_rebuild_diff');

/**
 * Who should enter and who should leave, kept in a temporary table. It is a read-only query
 * (CREATE TABLE AS), so Postgres may scan contacts with parallel workers, which it never does
 * for a statement that writes. A full join can only be planned as a hash or merge join, so its
 * cost stays linear whatever the planner guesses about either side.
 */
export function rebuildDiffStatement(segment: LoadedSegment, predicate: SQL): SQL {
  return sql`
    create temporary table ${DIFF_TABLE} on commit drop as
    select coalesce(a.id, b.contact_id) as contact_id, a.id is not null as enter
    from (
      select ${contacts.id} as id from ${contacts}
      where ${contacts.organizationId} = ${segment.row.organizationId} and (${predicate})
    ) a full join (
      select contact_id from ${segmentMembers} where segment_id = ${segment.row.id}
    ) b on a.id = b.contact_id
    where a.id is null or b.contact_id is null`;
}

/** Applies a rebuild's diff: memberships inserted and deleted, an event for each, the new count. */
function applyDiffStatement(segment: LoadedSegment, correlationId: string): SQL {
  const organizationId = segment.row.organizationId;
  const segmentId = segment.row.id;
  return sql`
    with added as (
      insert into ${segmentMembers} (organization_id, segment_id, contact_id)
      select ${organizationId}, ${segmentId}, contact_id from ${DIFF_TABLE} where enter
      on conflict do nothing
      returning contact_id
    ), removed as (
      delete from ${segmentMembers} m using ${DIFF_TABLE} d
      where m.segment_id = ${segmentId} and m.contact_id = d.contact_id and not d.enter
      returning m.contact_id
    ), changes as (
      select contact_id, ${catalogue.crm.segmentEntered.type}::text as type from added
      union all
      select contact_id, ${catalogue.crm.segmentExited.type}::text as type from removed
    ), events as (
      insert into ${outbox} (id, organization_id, topic, key, type, envelope)
      select ev.id, ${organizationId}, ${topicOf('crm')}, ev.contact_id::text, ev.type,
        ${envelopeSql(organizationId, segmentId, correlationId, sql`ev.contact_id`)}
      from (select crm.uuid_v7() as id, contact_id, type from changes) ev
      returning 1
    ), before as (
      select count(*)::int as n from ${segmentMembers} where segment_id = ${segmentId}
    )
    select (select count(*) from added)::int as added, (select count(*) from removed)::int as removed,
      (select n from before) + (select count(*) from added)::int - (select count(*) from removed)::int as member_count,
      (select count(*) from events)::int as events`;
}

/**
 * Recomputes a dynamic segment's membership with two set-based statements in the caller's
 * transaction: the diff (read-only, so it can run in parallel), then one statement that inserts
 * who now matches, deletes who no longer does, writes an entered or exited event for each and
 * counts the members. Callers hold the segment's lock, so nothing moves in between.
 */
export async function rebuildSegment(
  tx: Executor,
  deps: CrmDeps,
  segment: LoadedSegment,
  correlationId: string,
): Promise<RebuildStats> {
  const started = performance.now();
  const organizationId = segment.row.organizationId;
  const segmentId = segment.row.id;
  const predicate = compileFilter(segment.node, { organizationId, now: deps.now(), timeZone: 'UTC', mode: 'rebuild' });
  await tx.execute(rebuildDiffStatement(segment, predicate));
  const result = await tx.execute(applyDiffStatement(segment, correlationId));
  // Dropped now rather than at commit, so a transaction can rebuild more than one segment.
  await tx.execute(sql`drop table ${DIFF_TABLE}`);
  const [stats] = rowsOf<{ added: number; removed: number; member_count: number }>(result);
  const memberCount = stats?.member_count ?? 0;
  await tx.update(segments).set({ memberCount, rebuiltAt: sql`now()` }).where(eq(segments.id, segmentId));
  if ((stats?.added ?? 0) + (stats?.removed ?? 0) > 0)
    await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, 'crm')`);
  return { added: stats?.added ?? 0, removed: stats?.removed ?? 0, memberCount, tookMs: performance.now() - started };
}

/** `($1, $2, ...)` for an IN list. */
export const sqlList = (values: string[]) =>
  sql`(${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )})`;

/**
 * Adds every contact matching a filter to a static segment, or removes them from it, in one
 * statement with an entered or exited event per contact moved. Returns who moved.
 */
export async function moveStaticByFilter(
  tx: Executor,
  deps: CrmDeps,
  segment: SegmentRow,
  node: FilterNode,
  action: 'add' | 'remove',
  correlationId: string,
): Promise<string[]> {
  const { organizationId, id: segmentId } = segment;
  const predicate = compileFilter(node, { organizationId, now: deps.now(), timeZone: 'UTC', mode: 'rebuild' });
  const type = action === 'add' ? catalogue.crm.segmentEntered.type : catalogue.crm.segmentExited.type;
  const move =
    action === 'add'
      ? sql`insert into ${segmentMembers} (organization_id, segment_id, contact_id)
          select ${organizationId}, ${segmentId}, id from matching
          on conflict do nothing returning contact_id`
      : sql`delete from ${segmentMembers} m using ${contacts}
          where m.segment_id = ${segmentId} and ${contacts.id} = m.contact_id
            and ${contacts.organizationId} = ${organizationId} and (${predicate}) is true
          returning m.contact_id`;
  const result = await tx.execute(sql`
    with matching as (
      select ${contacts.id} as id from ${contacts}
      where ${contacts.organizationId} = ${organizationId} and (${predicate})
    ), moved as (${move}), events as (
      insert into ${outbox} (id, organization_id, topic, key, type, envelope)
      select ev.id, ${organizationId}, ${topicOf('crm')}, ev.contact_id::text, ev.type,
        ${envelopeSql(organizationId, segmentId, correlationId, sql`ev.contact_id`)}
      from (select crm.uuid_v7() as id, contact_id, ${type}::text as type from moved) ev
      returning 1
    )
    select contact_id::text as id from moved`);
  const moved = rowsOf<{ id: string }>(result).map((r) => r.id);
  if (moved.length === 0) return moved;
  const delta = action === 'add' ? moved.length : -moved.length;
  await tx
    .update(segments)
    .set({ memberCount: sql`${segments.memberCount} + ${delta}` })
    .where(eq(segments.id, segmentId));
  await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, 'crm')`);
  return moved;
}
