// Point rules: an organization's "when this lands on a contact's timeline, change its points
// (or a point group's) by N (at most M times)", for any occurrence or only one email (template),
// form, page URL pattern or custom event property. Applied in the transaction that records the
// activity; each application goes through scorePoints (its event, a `points.changed` activity
// whose subject is the rule, which is also how the per-contact limit is counted, and triggers).
import {
  authorize,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { and, asc, count, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { activities, contacts, pointRules } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';
import { groupExists, scorePoints } from './points.ts';

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
  /** What it was about: the template id, the form id, the page URL. */
  subject?: string | null;
  /** A custom event's properties. */
  properties?: Record<string, unknown>;
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
  groupId: z.uuid().nullable(),
  subject: z.string().trim().min(1).max(2048).nullable(),
  propertyName: z.string().trim().min(1).max(200).nullable(),
  propertyValue: z.string().max(2048).nullable(),
};

export const createPointRuleInput = z.object({
  ...ruleFields,
  customName: ruleFields.customName.optional().default(null),
  maxPerContact: ruleFields.maxPerContact.optional().default(null),
  active: ruleFields.active.optional().default(true),
  groupId: ruleFields.groupId.optional().default(null),
  subject: ruleFields.subject.optional().default(null),
  propertyName: ruleFields.propertyName.optional().default(null),
  propertyValue: ruleFields.propertyValue.optional().default(null),
});

export const updatePointRuleInput = z.object({
  name: ruleFields.name.optional(),
  eventType: ruleFields.eventType.optional(),
  customName: ruleFields.customName.optional(),
  delta: ruleFields.delta.optional(),
  maxPerContact: ruleFields.maxPerContact.optional(),
  active: ruleFields.active.optional(),
  subject: ruleFields.subject.optional(),
  propertyName: ruleFields.propertyName.optional(),
  propertyValue: ruleFields.propertyValue.optional(),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface RuleTarget {
  eventType: PointTrigger;
  customName: string | null;
  subject: string | null;
  propertyName: string | null;
  propertyValue: string | null;
}

/**
 * customName belongs to custom rules, and custom rules need one; a subject is a template or form
 * id, or a page URL pattern; a property test is for custom events and needs a name and a value.
 */
function checkTrigger(rule: RuleTarget): ValidationError | null {
  const issue = (field: string, message: string) => new ValidationError([{ path: ['input', field], message }]);
  if (rule.eventType === 'custom' && !rule.customName) return issue('customName', 'is required for custom events');
  if (rule.eventType !== 'custom' && rule.customName) return issue('customName', 'is only for custom events');
  if (rule.subject !== null) {
    if (rule.eventType === 'custom') return issue('subject', 'is not for custom events (their name is customName)');
    if (rule.eventType !== 'content.page.visited' && !UUID.test(rule.subject))
      return issue(
        'subject',
        rule.eventType === 'content.form.submitted' ? 'must be a form id' : 'must be a template id',
      );
  }
  if ((rule.propertyName === null) !== (rule.propertyValue === null))
    return issue(
      rule.propertyName === null ? 'propertyName' : 'propertyValue',
      'propertyName and propertyValue go together',
    );
  if (rule.propertyName !== null && rule.eventType !== 'custom')
    return issue('propertyName', 'is only for custom events');
  return null;
}

/** A page URL pattern (`*` any run of characters, case-insensitive) as a regular expression. */
const urlPattern = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );

/** Whether the rule's target (subject, property) matches the occurrence; a rule without one matches any. */
function targets(rule: PointRuleRow, occurrence: TriggerOccurrence): boolean {
  if (rule.subject !== null) {
    const subject = occurrence.subject ?? '';
    const matches =
      rule.eventType === 'content.page.visited'
        ? urlPattern(rule.subject).test(subject)
        : subject.toLowerCase() === rule.subject.toLowerCase();
    if (!matches) return false;
  }
  if (rule.propertyName !== null) {
    const value = occurrence.properties?.[rule.propertyName];
    if (value === undefined || value === null) return false;
    if ((typeof value === 'object' ? JSON.stringify(value) : String(value)) !== rule.propertyValue) return false;
  }
  return true;
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
  if (input.groupId && !(await groupExists(deps.handle.db, organizationId, input.groupId)))
    return fail(
      new ValidationError([{ path: ['input', 'groupId'], message: 'is not a point group of this organization' }]),
    );
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
    // Moving a rule onto `custom` drops a subject, and off it a property test, the same way.
    if (input.eventType === 'custom' && input.subject === undefined) next.subject = null;
    if (input.eventType && input.eventType !== 'custom' && input.propertyName === undefined) {
      next.propertyName = null;
      next.propertyValue = null;
    }
    const invalid = checkTrigger({ ...next, eventType: next.eventType as PointTrigger });
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
        subject: next.subject,
        propertyName: next.propertyName,
        propertyValue: next.propertyValue,
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
export async function applyPointRules(tx: Executor, deps: CrmDeps, application: PointApplication): Promise<boolean> {
  const { organizationId, contactId, trigger } = application;
  const candidates = await tx
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
  const rules = candidates.filter((rule) => targets(rule, trigger));
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
    await scorePoints(tx, deps, {
      organizationId,
      contactId,
      groupId: rule.groupId,
      delta: rule.delta,
      reason: `point rule: ${rule.name}`,
      ruleId: rule.id,
      occurredAt: application.occurredAt,
      correlationId: application.correlationId,
      ...(application.causationId ? { causationId: application.causationId } : {}),
    });
    changed = true;
  }
  return changed;
}
