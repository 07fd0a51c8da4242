// A contact's scores: the default one (contacts.points) and one per point group (Mautic's point
// groups, "product interest", "engagement"). Every change, by hand, by a rule or by a journey,
// goes through scorePoints: its event, its timeline entry and the point triggers it crosses, all
// in the caller's transaction.
import {
  authorize,
  catalogue,
  createEvent,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { recordOwnActivity } from '../db/activities.ts';
import { contactGroupPoints, contacts, outbox, pointGroups } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';
import { firePointTriggers } from './point-triggers.ts';

export type PointGroupRow = typeof pointGroups.$inferSelect;

export interface PointsChange {
  organizationId: string;
  contactId: string;
  /** null: the default score. */
  groupId: string | null;
  delta: number;
  reason?: string;
  /** The rule that gave the points: the activity's subject, which its per-contact limit counts. */
  ruleId?: string;
  occurredAt?: Date;
  correlationId: string;
  causationId?: string;
}

/**
 * Adds `delta` to one of the contact's scores and fires the triggers it crosses. The caller holds
 * the contact (its row lock serialises changes) and re-evaluates segments for `points`.
 */
export async function scorePoints(tx: Executor, deps: CrmDeps, change: PointsChange): Promise<number> {
  const { organizationId, contactId, groupId, delta } = change;
  let points: number;
  if (groupId === null) {
    const [row] = await tx
      .update(contacts)
      .set({ points: sql`${contacts.points} + ${delta}`, updatedAt: sql`now()` })
      .where(and(eq(contacts.id, contactId), eq(contacts.organizationId, organizationId)))
      .returning({ points: contacts.points });
    points = row!.points;
  } else {
    const [row] = await tx
      .insert(contactGroupPoints)
      .values({ organizationId, contactId, groupId, points: delta })
      .onConflictDoUpdate({
        target: [contactGroupPoints.contactId, contactGroupPoints.groupId],
        set: { points: sql`${contactGroupPoints.points} + ${delta}` },
      })
      .returning({ points: contactGroupPoints.points });
    points = row!.points;
  }
  await recordPoints(tx, deps, change, points);
  return points;
}

/**
 * The event, the timeline entry and the triggers of a score change already written (`points`:
 * the new score). True when a trigger fired (and may have changed the contact).
 */
export async function recordPoints(
  tx: Executor,
  deps: CrmDeps,
  change: PointsChange,
  points: number,
): Promise<boolean> {
  const { organizationId, contactId, groupId, delta } = change;
  const envelope = {
    organizationId,
    subjectId: contactId,
    correlationId: change.correlationId,
    ...(change.causationId ? { causationId: change.causationId } : {}),
  };
  const reason = change.reason ? { reason: change.reason } : {};
  await appendEvents(tx, outbox, [
    groupId === null
      ? createEvent(catalogue.crm.pointsChanged, { ...envelope, data: { delta, points, ...reason } })
      : createEvent(catalogue.crm.groupPointsChanged, { ...envelope, data: { groupId, delta, points, ...reason } }),
  ]);
  await recordOwnActivity(tx, {
    organizationId,
    contactId,
    type: 'points.changed',
    subject: change.ruleId ?? null,
    properties: {
      delta,
      points,
      ...(groupId ? { groupId } : {}),
      ...(change.ruleId ? { ruleId: change.ruleId } : {}),
      ...reason,
    },
    ...(change.occurredAt ? { occurredAt: change.occurredAt } : {}),
  });
  return firePointTriggers(tx, deps, {
    organizationId,
    contactId,
    groupId,
    before: points - delta,
    after: points,
    correlationId: change.correlationId,
  });
}

export const pointGroupInput = z.object({ name: z.string().trim().min(1).max(100) });

export async function createPointGroup(
  deps: CrmDeps,
  ctx: RequestContext,
  raw: z.input<typeof pointGroupInput>,
): Promise<Result<PointGroupRow>> {
  const access = authorize(ctx, 'crm:admin', pointGroupInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [row] = await deps.handle.db
    .insert(pointGroups)
    .values({ id: newId(), organizationId, name: input.name })
    .onConflictDoNothing()
    .returning();
  if (!row)
    return fail(new ValidationError([{ path: ['input', 'name'], message: 'a point group with this name exists' }]));
  return ok(row);
}

export async function listPointGroups(deps: CrmDeps, ctx: RequestContext): Promise<Result<PointGroupRow[]>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  return ok(
    await deps.handle.db
      .select()
      .from(pointGroups)
      .where(eq(pointGroups.organizationId, access.value.organizationId))
      .orderBy(asc(pointGroups.name)),
  );
}

/** Deletes a group with its scores, rules and triggers. */
export async function deletePointGroup(deps: CrmDeps, ctx: RequestContext, id: string): Promise<Result<PointGroupRow>> {
  const access = authorize(ctx, 'crm:admin');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .delete(pointGroups)
    .where(and(eq(pointGroups.id, id), eq(pointGroups.organizationId, access.value.organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('PointGroup', id));
}

/** Whether the group is the organization's (rules and triggers may only name its own). */
export async function groupExists(tx: Executor, organizationId: string, groupId: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: pointGroups.id })
    .from(pointGroups)
    .where(and(eq(pointGroups.id, groupId), eq(pointGroups.organizationId, organizationId)));
  return Boolean(row);
}

export interface GroupScore {
  contactId: string;
  group: PointGroupRow;
  points: number;
}

/** The scores of these contacts in every group of the organization (0 where they have none). */
export async function groupScoresOf(
  deps: CrmDeps,
  organizationId: string,
  contactIds: readonly string[],
): Promise<GroupScore[]> {
  const groups = await deps.handle.db
    .select()
    .from(pointGroups)
    .where(eq(pointGroups.organizationId, organizationId))
    .orderBy(asc(pointGroups.name));
  if (groups.length === 0) return [];
  const scores = await deps.handle.db
    .select()
    .from(contactGroupPoints)
    .where(
      and(
        eq(contactGroupPoints.organizationId, organizationId),
        inArray(contactGroupPoints.contactId, [...contactIds]),
      ),
    );
  const byKey = new Map(scores.map((s) => [`${s.contactId}:${s.groupId}`, s.points]));
  return contactIds.flatMap((contactId) =>
    groups.map((group) => ({ contactId, group, points: byKey.get(`${contactId}:${group.id}`) ?? 0 })),
  );
}
