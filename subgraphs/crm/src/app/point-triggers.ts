// Point triggers (Mautic's): when a contact's score, the default one or a group's, reaches a
// threshold, do something - add tags, change stage, add to a static segment, enrol in a journey,
// notify a member. A trigger fires when a change crosses its threshold upwards, once per contact
// (point_trigger_fires) unless it repeats, in the transaction of the points change: a redelivered
// event, whose points change is not applied twice, cannot fire it twice either.
import {
  authorize,
  catalogue,
  createEvent,
  fail,
  NotFoundError,
  newId,
  type OrganizationId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, asc, eq, gt, isNull, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import {
  contacts,
  outbox,
  type PointTriggerAction,
  pointTriggerFires,
  pointTriggers,
  segments,
  stages,
} from '../db/schema.ts';
import { tagContact } from './contact-attributes.ts';
import { updateContact } from './contacts.ts';
import { type CrmDeps, inTransaction } from './deps.ts';
import { groupExists } from './points.ts';
import { changeStaticMembers } from './segments.ts';

export type PointTriggerRow = typeof pointTriggers.$inferSelect;

export const pointTriggerAction = z.discriminatedUnion('type', [
  z.object({ type: z.literal('add_tags'), tags: z.array(z.string().trim().min(1).max(64)).min(1).max(20) }),
  z.object({ type: z.literal('change_stage'), stageId: z.uuid() }),
  z.object({ type: z.literal('add_to_segment'), segmentId: z.uuid() }),
  z.object({ type: z.literal('enroll_in_journey'), journeyId: z.uuid() }),
  z.object({ type: z.literal('notify_email'), target: z.email().max(320), templateId: z.uuid() }),
  z.object({ type: z.literal('notify_webhook'), templateId: z.uuid() }),
]);

export const createPointTriggerInput = z.object({
  name: z.string().trim().min(1).max(200),
  groupId: z.uuid().nullable().default(null),
  threshold: z.number().int().min(-1_000_000_000).max(1_000_000_000),
  action: pointTriggerAction,
  repeat: z.boolean().default(false),
  active: z.boolean().default(true),
});

/** The stage, static segment and group a trigger names must be the organization's. */
async function checkReferences(
  tx: Executor,
  organizationId: string,
  input: { groupId: string | null; action: PointTriggerAction },
): Promise<ValidationError | null> {
  const issue = (path: string[], message: string) => new ValidationError([{ path: ['input', ...path], message }]);
  if (input.groupId && !(await groupExists(tx, organizationId, input.groupId)))
    return issue(['groupId'], 'is not a point group of this organization');
  const { action } = input;
  if (action.type === 'change_stage') {
    const [stage] = await tx
      .select({ id: stages.id })
      .from(stages)
      .where(and(eq(stages.organizationId, organizationId), eq(stages.id, action.stageId)));
    if (!stage) return issue(['action', 'stageId'], 'is not a stage of this organization');
  }
  if (action.type === 'add_to_segment') {
    const [segment] = await tx
      .select({ kind: segments.kind })
      .from(segments)
      .where(and(eq(segments.organizationId, organizationId), eq(segments.id, action.segmentId)));
    if (segment?.kind !== 'static')
      return issue(['action', 'segmentId'], 'is not a static segment of this organization');
  }
  return null;
}

export async function createPointTrigger(
  deps: CrmDeps,
  ctx: RequestContext,
  raw: z.input<typeof createPointTriggerInput>,
): Promise<Result<PointTriggerRow>> {
  const access = authorize(ctx, 'crm:admin', createPointTriggerInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const invalid = await checkReferences(deps.handle.db, organizationId, input);
  if (invalid) return fail(invalid);
  const [row] = await deps.handle.db
    .insert(pointTriggers)
    .values({ id: newId(), organizationId, ...input })
    .returning();
  return ok(row!);
}

export async function deletePointTrigger(
  deps: CrmDeps,
  ctx: RequestContext,
  id: string,
): Promise<Result<PointTriggerRow>> {
  const access = authorize(ctx, 'crm:admin');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .delete(pointTriggers)
    .where(and(eq(pointTriggers.id, id), eq(pointTriggers.organizationId, access.value.organizationId)))
    .returning();
  return row ? ok(row) : fail(new NotFoundError('PointTrigger', id));
}

export async function listPointTriggers(deps: CrmDeps, ctx: RequestContext): Promise<Result<PointTriggerRow[]>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  return ok(
    await deps.handle.db
      .select()
      .from(pointTriggers)
      .where(eq(pointTriggers.organizationId, access.value.organizationId))
      .orderBy(asc(pointTriggers.threshold), asc(pointTriggers.createdAt), asc(pointTriggers.id)),
  );
}

export interface ScoreCrossing {
  organizationId: string;
  contactId: string;
  groupId: string | null;
  before: number;
  after: number;
  correlationId: string;
}

/** Fires the active triggers of this score whose threshold the change crossed upwards; true if any fired. */
export async function firePointTriggers(tx: Executor, deps: CrmDeps, crossing: ScoreCrossing): Promise<boolean> {
  const { organizationId, contactId, groupId, before, after } = crossing;
  if (after <= before) return false;
  let fired = false;
  const crossed = await tx
    .select()
    .from(pointTriggers)
    .where(
      and(
        eq(pointTriggers.organizationId, organizationId),
        groupId === null ? isNull(pointTriggers.groupId) : eq(pointTriggers.groupId, groupId),
        eq(pointTriggers.active, true),
        gt(pointTriggers.threshold, before),
        lte(pointTriggers.threshold, after),
      ),
    )
    .orderBy(asc(pointTriggers.threshold), asc(pointTriggers.createdAt), asc(pointTriggers.id));
  for (const trigger of crossed) {
    const insert = tx.insert(pointTriggerFires).values({ organizationId, triggerId: trigger.id, contactId });
    const [firing] = await (trigger.repeat
      ? insert.onConflictDoUpdate({
          target: [pointTriggerFires.triggerId, pointTriggerFires.contactId],
          set: { fires: sql`${pointTriggerFires.fires} + 1`, lastFiredAt: sql`now()` },
        })
      : insert.onConflictDoNothing()
    ).returning({ fires: pointTriggerFires.fires });
    if (!firing) continue;
    await runAction(tx, deps, trigger, contactId, firing.fires, crossing.correlationId);
    fired = true;
  }
  return fired;
}

/** Does what the trigger says, as the organization's system caller named after the trigger. */
async function runAction(
  tx: Executor,
  deps: CrmDeps,
  trigger: PointTriggerRow,
  contactId: string,
  firing: number,
  correlationId: string,
): Promise<void> {
  const organizationId = trigger.organizationId;
  const ctx: RequestContext = {
    correlationId,
    actor: { type: 'system', id: `point-trigger:${trigger.id}` },
    organizationId: organizationId as OrganizationId,
    scopes: ['crm:write'],
  };
  const scoped = inTransaction(deps, tx);
  // The key names this firing: a repeated trigger's later firings are new requests.
  const idempotencyKey = `point-trigger:${trigger.id}:${contactId}:${firing}`;
  const envelope = { organizationId, subjectId: contactId, correlationId };
  const { action } = trigger;
  let outcome: Result<unknown> = ok(null);
  switch (action.type) {
    case 'add_tags':
      outcome = await tagContact(scoped, ctx, { contactId, add: action.tags });
      break;
    case 'change_stage':
      outcome = await updateContact(scoped, ctx, contactId, { stageId: action.stageId });
      break;
    case 'add_to_segment':
      outcome = await changeStaticMembers(scoped, ctx, action.segmentId, [contactId], 'add');
      break;
    case 'enroll_in_journey':
      await appendEvents(tx, outbox, [
        createEvent(catalogue.crm.journeyEnrollmentRequested, {
          ...envelope,
          data: { journeyId: action.journeyId, triggerId: trigger.id, idempotencyKey },
        }),
      ]);
      break;
    case 'notify_email':
    case 'notify_webhook': {
      const [contact] = await tx
        .select({ id: contacts.id, email: contacts.email, points: contacts.points })
        .from(contacts)
        .where(eq(contacts.id, contactId));
      await appendEvents(tx, outbox, [
        createEvent(catalogue.delivery.messageRequested, {
          ...envelope,
          data: {
            channel: action.type === 'notify_email' ? 'email' : 'webhook',
            templateId: action.templateId,
            // A member is not a contact: the message goes to the address (or the webhook's URL).
            contactId: null,
            address: action.type === 'notify_email' ? action.target : null,
            context: { contact, trigger: { id: trigger.id, name: trigger.name, threshold: trigger.threshold } },
            idempotencyKey,
            source: { kind: 'transactional', id: trigger.id, stepId: null },
          },
        }),
      ]);
      break;
    }
  }
  // A stage or segment deleted since the trigger was made: the points stand, the action is skipped.
  if (!outcome.ok)
    deps.logger.warn(
      { organizationId, contactId, triggerId: trigger.id, code: outcome.error.code, message: outcome.error.message },
      'point trigger: CRM refused its action',
    );
}
