// What contacts did: CRM's own changes and behaviour (custom events; opens and clicks from
// delivery; form submissions and page visits from content). The timeline reads it, and
// behavioural segment conditions filter on it.
import { authorize, fail, NotFoundError, ok, type RequestContext, ValidationError } from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { and, desc, eq, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type NewActivity, recordOwnActivity } from '../db/activities.ts';
import { activities, contacts } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';
import { applyPointRules, type TriggerOccurrence } from './point-rules.ts';
import { reevaluateMemberships } from './segment-membership.ts';

export type ActivityRow = typeof activities.$inferSelect;

/** Behaviour (not bookkeeping) moves lastActiveAt. */
const BEHAVIOUR = /^(email\.(opened|clicked)|form\.submitted|page\.visited|event)$/;

/**
 * Records behaviour, moves lastActiveAt, applies the point rules for `trigger` and re-evaluates
 * the segments that read any of it, once.
 */
export async function recordBehaviour(
  tx: Executor,
  deps: CrmDeps,
  activity: NewActivity,
  correlationId: string,
  trigger?: TriggerOccurrence,
) {
  await recordOwnActivity(tx, activity);
  const changed = ['activities'];
  if (
    trigger &&
    (await applyPointRules(tx, {
      organizationId: activity.organizationId,
      contactId: activity.contactId,
      trigger,
      occurredAt: activity.occurredAt ?? new Date(),
      correlationId,
    }))
  )
    changed.push('points');
  if (BEHAVIOUR.test(activity.type)) {
    await tx
      .update(contacts)
      .set({
        lastActiveAt: sql`greatest(${contacts.lastActiveAt}, ${(activity.occurredAt ?? new Date()).toISOString()}::timestamptz)`,
      })
      .where(eq(contacts.id, activity.contactId));
    changed.push('lastActiveAt');
  }
  await reevaluateMemberships(tx, deps, {
    organizationId: activity.organizationId,
    contactIds: [activity.contactId],
    changed,
    correlationId,
  });
}

export const trackEventInput = z
  .object({
    contactId: z.uuid().optional(),
    email: z.email().optional(),
    name: z.string().trim().min(1).max(200),
    properties: z.record(z.string(), z.unknown()).default({}),
    occurredAt: z.coerce.date().optional(),
  })
  .refine((e) => e.contactId || e.email, { message: 'give contactId or email', path: ['contactId'] })
  .refine((e) => JSON.stringify(e.properties).length <= 32_768, { message: 'at most 32 KB', path: ['properties'] });

/** A custom event an integrator reports about a contact ("performed E with P = V" in filters). */
export async function trackContactEvent(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof trackEventInput>) {
  const access = authorize(ctx, 'crm:write', trackEventInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { contactId, email, name, properties, occurredAt } = input;
  return deps.handle.db.transaction(async (tx) => {
    const where: SQL = contactId
      ? and(eq(contacts.id, contactId), eq(contacts.organizationId, organizationId))!
      : and(eq(contacts.organizationId, organizationId), sql`lower(${contacts.email}) = ${email!.toLowerCase()}`)!;
    const [contact] = await tx.select({ id: contacts.id }).from(contacts).where(where);
    if (!contact) return fail(new NotFoundError('Contact', contactId ?? email!));
    const when = occurredAt ?? new Date();
    if (when.getTime() > Date.now() + 5 * 60_000)
      return fail(new ValidationError([{ path: ['input', 'occurredAt'], message: 'must not be in the future' }]));
    const activity = {
      organizationId,
      contactId: contact.id,
      type: 'event',
      subject: name,
      properties,
      occurredAt: when,
    };
    await recordBehaviour(tx, deps, activity, ctx.correlationId, { eventType: 'custom', customName: name });
    return ok(activity);
  });
}

/** A contact's timeline, newest first, paged by (occurredAt, id). */
export async function timeline(
  deps: CrmDeps,
  organizationId: string,
  contactId: string,
  first: number,
  after?: string | null,
) {
  const limit = Math.min(Math.max(first, 0), 100);
  let cursor: SQL | undefined;
  if (after) {
    const [at, id] = JSON.parse(Buffer.from(after, 'base64url').toString('utf8')) as [string, string];
    cursor = sql`(${activities.occurredAt}, ${activities.id}) < (${at}::timestamptz, ${id}::uuid)`;
  }
  const rows = await deps.handle.db
    .select({ activity: activities, at: sql<string>`${activities.occurredAt}::text` })
    .from(activities)
    .where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, contactId), cursor))
    .orderBy(desc(activities.occurredAt), desc(activities.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => r.activity),
    hasNextPage: rows.length > limit,
    endCursor: page.length
      ? Buffer.from(JSON.stringify([page.at(-1)!.at, page.at(-1)!.activity.id])).toString('base64url')
      : null,
  };
}
