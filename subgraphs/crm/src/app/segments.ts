// Segments: dynamic ones defined by a filter tree (membership stored and kept current), static
// ones whose members are added and removed by hand.
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
import {
  appendEvents,
  defineJob,
  type Executor,
  type PageWindow,
  pageOfOrganization,
  toConnection,
} from '@mauntic/platform';
import { and, count, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { contacts, outbox, segmentMembers, segments } from '../db/schema.ts';
import { compileFilter } from '../db/segment-sql.ts';
import { type FilterNode, isTimeDependent, referencedSegments } from '../domain/segment-filter.ts';
import { validateFilter } from '../domain/segment-filter-validation.ts';
import { type CrmDeps, DEFAULT_REFRESH_INTERVAL_MS } from './deps.ts';
import {
  fieldDefinitionsOf,
  type LoadedSegment,
  loadDynamicSegments,
  moveStaticByFilter,
  parseCallerFilter,
  type RebuildStats,
  rebuildSegment,
  reevaluateMemberships,
  type SegmentRow,
  segmentLockKey,
} from './segment-membership.ts';

export const segmentInput = z.object({
  name: z.string().trim().min(1).max(200),
  kind: z.enum(['dynamic', 'static']).default('dynamic'),
  filter: z.unknown().optional(),
});

async function checkFilter(
  tx: Executor,
  organizationId: string,
  filter: unknown,
  selfId: string | undefined,
): Promise<Result<unknown, ValidationError>> {
  const fields = await fieldDefinitionsOf(tx, organizationId);
  const others = await tx
    .select({ id: segments.id, filter: segments.filter })
    .from(segments)
    .where(eq(segments.organizationId, organizationId));
  const known = new Map(others.map((s) => [s.id, s.filter]));
  const parsed = validateFilter(filter, { fields, segmentExists: (id) => known.has(id) });
  if (!parsed.ok)
    return fail(new ValidationError(parsed.error.issues.map((i) => ({ ...i, path: ['input', ...i.path] }))));
  if (selfId) {
    // Following the references from this filter must never lead back to this segment.
    const seen = new Set<string>();
    const stack = referencedSegments(parsed.value);
    while (stack.length) {
      const id = stack.pop()!;
      if (id === selfId)
        return fail(
          new ValidationError([
            { path: ['input', 'filter'], message: 'segments would refer to each other in a cycle' },
          ]),
        );
      if (seen.has(id)) continue;
      seen.add(id);
      const other = validateFilter(known.get(id), { fields, segmentExists: (x) => known.has(x) });
      if (other.ok) stack.push(...referencedSegments(other.value));
    }
  }
  return ok(filter);
}

export const rebuildSegmentJob = (deps: CrmDeps) =>
  defineJob({
    name: 'crm-segment-rebuild',
    schema: z.object({ organizationId: z.uuid(), segmentId: z.uuid(), correlationId: z.string() }),
    attempts: 3,
    handle: async ({ organizationId, segmentId, correlationId }) => {
      const rebuilt = await rebuildNow(deps, organizationId, segmentId, correlationId);
      // Membership that depends on the clock drifts by itself: come back for it.
      if (rebuilt?.timeDependent) await scheduleRefresh(deps, organizationId, segmentId, 'refresh');
    },
  });

async function scheduleRefresh(
  deps: CrmDeps,
  organizationId: string,
  segmentId: string,
  correlationId: string,
  delayMs?: number,
) {
  const interval = deps.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  const slot = Math.floor(Date.now() / interval) + (delayMs === 0 ? 0 : 1);
  await deps.queue.enqueue(
    rebuildSegmentJob(deps),
    { organizationId, segmentId, correlationId },
    { jobId: `refresh-${segmentId}-${slot}`, delayMs: delayMs ?? interval },
  );
}

/**
 * At start: rebuild every segment whose filter reads the clock, which then keeps itself on
 * schedule. Slot-based job ids keep replicas from doing it twice.
 */
export async function scheduleTimeDependentRefreshes(deps: CrmDeps): Promise<number> {
  const rows = await deps.handle.db
    .select({ id: segments.id, organizationId: segments.organizationId })
    .from(segments)
    .where(eq(segments.kind, 'dynamic'));
  const organizations = [...new Set(rows.map((r) => r.organizationId))];
  let scheduled = 0;
  for (const organizationId of organizations)
    for (const s of await loadDynamicSegments(deps.handle.db, organizationId))
      if (isTimeDependent(s.node)) {
        await scheduleRefresh(deps, organizationId, s.row.id, 'startup', 0);
        scheduled++;
      }
  return scheduled;
}

async function rebuildNow(deps: CrmDeps, organizationId: string, segmentId: string, correlationId: string) {
  return deps.handle.db.transaction(async (tx): Promise<(RebuildStats & { timeDependent: boolean }) | null> => {
    // One rebuild of a segment at a time; others wait for it rather than race it.
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${segmentLockKey(segmentId)}))`);
    const segment = (await loadDynamicSegments(tx, organizationId)).find((s) => s.row.id === segmentId);
    if (!segment) return null;
    const stats = await rebuildSegment(tx, deps, segment, correlationId);
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.segmentRebuilt, {
        organizationId,
        subjectId: segmentId,
        correlationId,
        data: stats,
      }),
    ]);
    return { ...stats, timeDependent: isTimeDependent(segment.node) };
  });
}

async function scheduleRebuild(deps: CrmDeps, row: SegmentRow, correlationId: string) {
  if (row.kind !== 'dynamic') return;
  await deps.queue.enqueue(
    rebuildSegmentJob(deps),
    { organizationId: row.organizationId, segmentId: row.id, correlationId },
    { jobId: `rebuild-${row.id}-${row.updatedAt.getTime()}` },
  );
}

/**
 * Queues a rebuild of every dynamic segment whose filter reads `name` (e.g. `company`): for a
 * change too wide to re-evaluate contact by contact. Call it once the change has committed.
 */
export async function scheduleRebuildsReading(
  deps: CrmDeps,
  organizationId: string,
  name: string,
  correlationId: string,
): Promise<number> {
  const affected = (await loadDynamicSegments(deps.handle.db, organizationId)).filter((s) => s.reads.has(name));
  for (const s of affected)
    await deps.queue.enqueue(
      rebuildSegmentJob(deps),
      { organizationId, segmentId: s.row.id, correlationId },
      { jobId: `rebuild-${s.row.id}-${name}-${newId()}` },
    );
  return affected.length;
}

export async function createSegment(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof segmentInput>) {
  const access = authorize(ctx, 'crm:write', segmentInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { name, kind, filter } = input;
  if (kind === 'dynamic') {
    const checked = await checkFilter(deps.handle.db, organizationId, filter, undefined);
    if (!checked.ok) return checked;
  }
  const row = await deps.handle.db.transaction(async (tx) => {
    const [created] = await tx
      .insert(segments)
      .values({ id: newId(), organizationId, name, kind, filter: kind === 'dynamic' ? filter : null })
      .returning();
    await appendEvents(tx, outbox, [segmentEvent(catalogue.crm.segmentCreated, created!, ctx.correlationId)]);
    return created!;
  });
  await scheduleRebuild(deps, row, ctx.correlationId);
  return ok(row);
}

export async function updateSegment(
  deps: CrmDeps,
  ctx: RequestContext,
  id: string,
  raw: { name?: string | null; filter?: unknown },
) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const [existing] = await deps.handle.db
    .select()
    .from(segments)
    .where(and(eq(segments.id, id), eq(segments.organizationId, organizationId)));
  if (!existing) return fail(new NotFoundError('Segment', id));
  const name = raw.name == null ? existing.name : raw.name.trim();
  if (!name) return fail(new ValidationError([{ path: ['input', 'name'], message: 'must not be empty' }]));
  if (raw.filter !== undefined) {
    if (existing.kind !== 'dynamic')
      return fail(new ValidationError([{ path: ['input', 'filter'], message: 'a static segment has no filter' }]));
    const checked = await checkFilter(deps.handle.db, organizationId, raw.filter, id);
    if (!checked.ok) return checked;
  }
  const row = await deps.handle.db.transaction(async (tx) => {
    // A new filter makes the segment building again. Taking the rebuild lock waits out a rebuild
    // of the old filter, so that one cannot mark the new filter built.
    if (raw.filter !== undefined) await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${segmentLockKey(id)}))`);
    const [updated] = await tx
      .update(segments)
      .set({
        name,
        ...(raw.filter !== undefined ? { filter: raw.filter, rebuiltAt: null } : {}),
        updatedAt: sql`now()`,
      })
      .where(eq(segments.id, id))
      .returning();
    await appendEvents(tx, outbox, [segmentEvent(catalogue.crm.segmentUpdated, updated!, ctx.correlationId)]);
    return updated!;
  });
  if (raw.filter !== undefined) await scheduleRebuild(deps, row, ctx.correlationId);
  return ok(row);
}

export async function deleteSegment(deps: CrmDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const dependents = (await loadDynamicSegments(deps.handle.db, organizationId)).filter((s) =>
    s.dependsOn.includes(id),
  );
  if (dependents.length)
    return fail(
      new ValidationError([
        { path: ['input', 'id'], message: `used by segments: ${dependents.map((d) => d.row.name).join(', ')}` },
      ]),
    );
  return deps.handle.db.transaction(async (tx): Promise<Result<SegmentRow, NotFoundError>> => {
    const [row] = await tx
      .delete(segments)
      .where(and(eq(segments.id, id), eq(segments.organizationId, organizationId)))
      .returning();
    if (!row) return fail(new NotFoundError('Segment', id));
    await appendEvents(tx, outbox, [segmentEvent(catalogue.crm.segmentDeleted, row, ctx.correlationId)]);
    return ok(row);
  });
}

/** A segment's created, updated or deleted event: what others that name segments need of it. */
const segmentEvent = (
  def: (typeof catalogue.crm)['segmentCreated' | 'segmentUpdated' | 'segmentDeleted'],
  row: SegmentRow,
  correlationId: string,
): EventEnvelope =>
  createEvent(def, {
    organizationId: row.organizationId,
    subjectId: row.id,
    correlationId,
    data: { kind: row.kind, name: row.name },
  });

/** Rebuilds a dynamic segment now and says what moved. */
export async function rebuildSegmentNow(deps: CrmDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const rebuilt = await rebuildNow(deps, organizationId, id, ctx.correlationId);
  if (!rebuilt) return fail(new NotFoundError('Segment', id));
  const { timeDependent: _, ...stats } = rebuilt;
  return ok(stats);
}

export async function getSegment(deps: CrmDeps, ctx: RequestContext, id: string): Promise<Result<SegmentRow | null>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select()
    .from(segments)
    .where(and(eq(segments.id, id), eq(segments.organizationId, access.value.organizationId)));
  return ok(row ?? null);
}

/** A page of the organization's segments, or of those filed under one category. */
export async function listSegments(
  deps: CrmDeps,
  ctx: RequestContext,
  window: PageWindow,
  filter: { categoryId?: string } = {},
) {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const inCategory = filter.categoryId ? eq(segments.categoryId, filter.categoryId) : undefined;
  return ok(await pageOfOrganization(deps.handle.db, segments, organizationId, window, inCategory));
}

export async function segmentMembersPage(deps: CrmDeps, organizationId: string, segmentId: string, window: PageWindow) {
  const scope = and(eq(segmentMembers.organizationId, organizationId), eq(segmentMembers.segmentId, segmentId));
  const members = await deps.handle.db
    .select({ contact: contacts })
    .from(segmentMembers)
    .innerJoin(contacts, eq(contacts.id, segmentMembers.contactId))
    .where(window.afterId ? and(scope, lt(segmentMembers.contactId, window.afterId)) : scope)
    .orderBy(desc(segmentMembers.contactId))
    .limit(window.fetch);
  const [segment] = await deps.handle.db
    .select({ n: segments.memberCount })
    .from(segments)
    .where(eq(segments.id, segmentId));
  return toConnection(
    members.map((m) => m.contact),
    window,
    segment?.n ?? 0,
    (c) => c.id,
  );
}

/** Count and first page of a filter, without saving it. */
export async function previewSegment(deps: CrmDeps, ctx: RequestContext, filter: unknown, first: number) {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const checked = await checkFilter(deps.handle.db, organizationId, filter, undefined);
  if (!checked.ok) return checked;
  const fields = await fieldDefinitionsOf(deps.handle.db, organizationId);
  const node = validateFilter(filter, { fields, segmentExists: () => true });
  if (!node.ok) return node;
  const predicate = compileFilter(node.value, {
    organizationId,
    now: deps.now(),
    timeZone: 'UTC',
    mode: 'rebuild',
  });
  const where = and(eq(contacts.organizationId, organizationId), predicate);
  const [total] = await deps.handle.db.select({ n: count() }).from(contacts).where(where);
  const page = await deps.handle.db
    .select()
    .from(contacts)
    .where(where)
    .orderBy(desc(contacts.id))
    .limit(Math.min(Math.max(first, 0), 100));
  return ok({ count: total?.n ?? 0, contacts: page });
}

/** Adds contacts to, or removes them from, a static segment. */
export interface StaticChange {
  contactIds?: string[];
  /** Every contact matching this filter (a segment filter tree). */
  filter?: unknown;
}

/** Adds contacts to, or removes them from, a static segment: by id, by filter, or both. */
export async function changeStaticMembers(
  deps: CrmDeps,
  ctx: RequestContext,
  segmentId: string,
  change: string[] | StaticChange,
  action: 'add' | 'remove',
) {
  const access = authorize(ctx, 'crm:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const { contactIds = [], filter } = Array.isArray(change) ? { contactIds: change } : change;
  if (contactIds.length > 10_000)
    return fail(new ValidationError([{ path: ['input', 'contactIds'], message: 'at most 10,000 at a time' }]));
  let node: FilterNode | undefined;
  if (filter !== undefined && filter !== null) {
    const parsed = await parseCallerFilter(deps.handle.db, organizationId, filter, ['input']);
    if (!parsed.ok) return parsed;
    node = parsed.value;
  }
  return deps.handle.db.transaction(async (tx): Promise<Result<SegmentRow, ValidationError | NotFoundError>> => {
    const [segment] = await tx
      .select()
      .from(segments)
      .where(and(eq(segments.id, segmentId), eq(segments.organizationId, organizationId)))
      .for('update');
    if (!segment) return fail(new NotFoundError('Segment', segmentId));
    if (segment.kind !== 'static')
      return fail(
        new ValidationError([
          { path: ['input', 'segmentId'], message: 'members of a dynamic segment follow its filter' },
        ]),
      );
    const owned =
      contactIds.length === 0
        ? []
        : (
            await tx
              .select({ id: contacts.id })
              .from(contacts)
              .where(and(eq(contacts.organizationId, organizationId), inArray(contacts.id, contactIds)))
          ).map((c) => c.id);
    const missing = contactIds.filter((id) => !owned.includes(id));
    if (missing.length) return fail(new NotFoundError('Contact', missing[0]!));
    const moved = await moveStaticByIds(tx, segment, owned, action, ctx.correlationId);
    if (node) moved.push(...(await moveStaticByFilter(tx, deps, segment, node, action, ctx.correlationId)));
    // Dynamic segments built on this one follow, a thousand contacts at a time.
    for (let i = 0; i < moved.length; i += 1000)
      await reevaluateMemberships(tx, deps, {
        organizationId,
        contactIds: moved.slice(i, i + 1000),
        changed: ['segments'],
        correlationId: ctx.correlationId,
      });
    const [row] = await tx.select().from(segments).where(eq(segments.id, segmentId));
    return ok(row!);
  });
}

/** Adds these contacts (of the segment's organization) to a static segment, or removes them; returns who moved. */
async function moveStaticByIds(
  tx: Executor,
  segment: SegmentRow,
  contactIds: string[],
  action: 'add' | 'remove',
  correlationId: string,
): Promise<string[]> {
  if (contactIds.length === 0) return [];
  const { organizationId, id: segmentId } = segment;
  const rows =
    action === 'add'
      ? await tx
          .insert(segmentMembers)
          .values(contactIds.map((contactId) => ({ organizationId, segmentId, contactId })))
          .onConflictDoNothing()
          .returning({ contactId: segmentMembers.contactId })
      : await tx
          .delete(segmentMembers)
          .where(and(eq(segmentMembers.segmentId, segmentId), inArray(segmentMembers.contactId, contactIds)))
          .returning({ contactId: segmentMembers.contactId });
  const delta = action === 'add' ? rows.length : -rows.length;
  await tx
    .update(segments)
    .set({ memberCount: sql`${segments.memberCount} + ${delta}` })
    .where(eq(segments.id, segmentId));
  const def = action === 'add' ? catalogue.crm.segmentEntered : catalogue.crm.segmentExited;
  await appendEvents(
    tx,
    outbox,
    rows.map((m) => createEvent(def, { organizationId, subjectId: m.contactId, correlationId, data: { segmentId } })),
  );
  return rows.map((r) => r.contactId);
}

export type { LoadedSegment };
