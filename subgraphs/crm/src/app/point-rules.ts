// Point rules: an organization's "when this lands on a contact's timeline, change its points
// by N (at most M times)". Applied in the transaction that records the activity; each
// application is a `crm.points.changed` event and a `points.changed` activity whose subject is
// the rule, which is also how the per-contact limit is counted.
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
import { and, asc, count, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { recordOwnActivity } from '../db/activities.ts';
import { activities, contacts, outbox, pointRules } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';

export type PointRuleRow = typeof pointRules.$inferSelect;

/** What a rule can react to: the catalogued event that put the activity on the timeline, or a custom event. */
export const POINT_TRIGGERS = [
  'delivery.message.sent',
  'delivery.message.opened',
  'delivery.message.clicked',
  'content.form.submitted',
  'content.page.visited',
  'custom',
] as const;
export type PointTrigger = (typeof POINT_TRIGGERS)[number];

/** The occurrence a rule is matched against. */
export interface TriggerOccurrence {
  eventType: PointTrigger;
  /** For `custom`: the event's name. */
  customName?: string;
}

const ruleFields = {
  name: z.string().trim().min(1).max(200),
  eventType: z.enum(POINT_TRIGGERS),
  customName: z.string().trim().min(1).max(200).nullable(),
  delta: z
    .number()
    .int()
    .min(-1_000_000)
    .max(1_000_000)
    .refine((d) => d !== 0, 'must not be 0'),
  maxPerContact: z.number().int().min(1).max(1_000_000).nullable(),
  active: z.boolean(),
};

export const createPointRuleInput = z.object({
  ...ruleFields,
  customName: ruleFields.customName.optional().default(null),
  maxPerContact: ruleFields.maxPerContact.optional().default(null),
  active: ruleFields.active.optional().default(true),
});

export const updatePointRuleInput = z.object({
  name: ruleFields.name.optional(),
  eventType: ruleFields.eventType.optional(),
  customName: ruleFields.customName.optional(),
  delta: ruleFields.delta.optional(),
  maxPerContact: ruleFields.maxPerContact.optional(),
  active: ruleFields.active.optional(),
});

/** customName belongs to custom rules, and custom rules need one. */
function checkTrigger(rule: { eventType: PointTrigger; customName: string | null }): ValidationError | null {
  if (rule.eventType === 'custom' && !rule.customName)
    return new ValidationError([{ path: ['input', 'customName'], message: 'is required for custom events' }]);
  if (rule.eventType !== 'custom' && rule.customName)
    return new ValidationError([{ path: ['input', 'customName'], message: 'is only for custom events' }]);
  return null;
}

export async function createPointRule(
  deps: CrmDeps,
  ctx: RequestContext,
  raw: z.input<typeof createPointRuleInput>,
): Promise<Result<PointRuleRow>> {
  const access = authorize(ctx, 'crm:admin', createPointRuleInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const invalid = checkTrigger(input);
  if (invalid) return fail(invalid);
  const [row] = await deps.handle.db
    .insert(pointRules)
    .values({ id: newId(), organizationId, ...input })
    .returning();
  return ok(row!);
}

export async function updatePointRule(
  deps: CrmDeps,
  ctx: RequestContext,
  id: string,
  raw: z.input<typeof updatePointRuleInput>,
): Promise<Result<PointRuleRow>> {
  const access = authorize(ctx, 'crm:admin', updatePointRuleInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<PointRuleRow>> => {
    const [current] = await tx
      .select()
      .from(pointRules)
      .where(and(eq(pointRules.id, id), eq(pointRules.organizationId, organizationId)))
      .for('update');
    if (!current) return fail(new NotFoundError('PointRule', id));
    const next = { ...current, ...input };
    // Moving a rule off `custom` drops its custom name rather than refusing the change.
    if (input.eventType && input.eventType !== 'custom' && input.customName === undefined) next.customName = null;
    const invalid = checkTrigger({ eventType: next.eventType as PointTrigger, customName: next.customName });
    if (invalid) return fail(invalid);
    const [row] = await tx
      .update(pointRules)
      .set({
        name: next.name,
        eventType: next.eventType,
        customName: next.customName,
        delta: next.delta,
        maxPerContact: next.maxPerContact,
        active: next.active,
        updatedAt: sql`now()`,
      })
      .where(and(eq(pointRules.id, id), eq(pointRules.organizationId, organizationId)))
      .returning();
    return ok(row!);
  });
}

export async function deletePointRule(deps: CrmDeps, ctx: RequestContext, id: string): Promise<Result<PointRuleRow>> {
  const access = authorize(ctx, 'crm:admin');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const [row] = await deps.handle.db
    .delete(pointRules)
    .where(and(eq(pointRules.id, id), eq(pointRules.organizationId, organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('PointRule', id));
}

export async function getPointRule(
  deps: CrmDeps,
  ctx: RequestContext,
  id: string,
): Promise<Result<PointRuleRow | null>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select()
    .from(pointRules)
    .where(and(eq(pointRules.id, id), eq(pointRules.organizationId, access.value.organizationId)));
  return ok(row ?? null);
}

export async function listPointRules(deps: CrmDeps, ctx: RequestContext): Promise<Result<PointRuleRow[]>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  return ok(
    await deps.handle.db
      .select()
      .from(pointRules)
      .where(eq(pointRules.organizationId, organizationId))
      .orderBy(asc(pointRules.createdAt), asc(pointRules.id)),
  );
}

export interface PointApplication {
  organizationId: string;
  contactId: string;
  trigger: TriggerOccurrence;
  occurredAt: Date;
  correlationId: string;
  causationId?: string;
}

/**
 * Applies the organization's active rules for this occurrence to the contact, inside the
 * caller's transaction. Returns whether the points changed; the caller re-evaluates segments
 * (with `points` among what changed) once for everything it recorded.
 */
export async function applyPointRules(tx: Executor, application: PointApplication): Promise<boolean> {
  const { organizationId, contactId, trigger } = application;
  const rules = await tx
    .select()
    .from(pointRules)
    .where(
      and(
        eq(pointRules.organizationId, organizationId),
        eq(pointRules.eventType, trigger.eventType),
        eq(pointRules.active, true),
        trigger.eventType === 'custom'
          ? eq(pointRules.customName, trigger.customName ?? '')
          : isNull(pointRules.customName),
      ),
    )
    .orderBy(asc(pointRules.createdAt), asc(pointRules.id));
  if (rules.length === 0) return false;
  // The contact's row lock serialises concurrent applications, so a limit cannot be overrun.
  const [locked] = await tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.id, contactId), eq(contacts.organizationId, organizationId)))
    .for('update');
  if (!locked) return false;
  let changed = false;
  for (const rule of rules) {
    if (rule.maxPerContact !== null) {
      const [applied] = await tx
        .select({ n: count() })
        .from(activities)
        .where(
          and(
            eq(activities.organizationId, organizationId),
            eq(activities.contactId, contactId),
            eq(activities.type, 'points.changed'),
            eq(activities.subject, rule.id),
          ),
        );
      if ((applied?.n ?? 0) >= rule.maxPerContact) continue;
    }
    const [row] = await tx
      .update(contacts)
      .set({ points: sql`${contacts.points} + ${rule.delta}`, updatedAt: sql`now()` })
      .where(eq(contacts.id, contactId))
      .returning({ points: contacts.points });
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.pointsChanged, {
        organizationId,
        subjectId: contactId,
        correlationId: application.correlationId,
        ...(application.causationId ? { causationId: application.causationId } : {}),
        data: { delta: rule.delta, points: row!.points, reason: `point rule: ${rule.name}` },
      }),
    ]);
    await recordOwnActivity(tx, {
      organizationId,
      contactId,
      type: 'points.changed',
      subject: rule.id,
      properties: { delta: rule.delta, points: row!.points, ruleId: rule.id, rule: rule.name },
      occurredAt: application.occurredAt,
    });
    changed = true;
  }
  return changed;
}
