// What contacts did: CRM's own changes and behaviour (custom events; opens and clicks from
// delivery; form submissions and page visits from content). The timeline reads it, and
// behavioural segment conditions filter on it.
import {
  authorize,
  catalogue,
  createEvent,
  fail,
  NotFoundError,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, desc, eq, type SQL, sql } from 'drizzle-orm';
import { z } from 'zod';
import { type NewActivity, recordOwnActivity } from '../db/activities.ts';
import { activities, contacts, outbox } from '../db/schema.ts';
import type { CrmDeps } from './deps.ts';
import { applyPointRules, type TriggerOccurrence } from './point-rules.ts';
import { reevaluateMemberships } from './segment-membership.ts';

export type ActivityRow = typeof activities.$inferSelect;
export interface TimelinePage {
  items: ActivityRow[];
  hasNextPage: boolean;
  endCursor: string | null;
}

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
    (await applyPointRules(tx, deps, {
      organizationId: activity.organizationId,
      contactId: activity.contactId,
      trigger: { subject: activity.subject ?? null, properties: activity.properties ?? {}, ...trigger },
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

/**
 * A custom event an integrator (or a journey's emit event step) reports about a contact: on the
 * timeline ("performed E with P = V" in filters) and published, for journeys to trigger on.
 */
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
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.contactEventTracked, {
        organizationId,
        subjectId: contact.id,
        correlationId: ctx.correlationId,
        data: { name, properties, occurredAt: when.toISOString() },
      }),
    ]);
    return ok(activity);
  });
}

// A timeline cursor is [occurredAt as UTC ISO text with microseconds, activity id]: a form that
// is checked here whole, so a cursor that is not one is refused before any SQL runs.
const CURSOR_AT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3})\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const encodeCursor = (at: string, id: string) => Buffer.from(JSON.stringify([at, id])).toString('base64url');

/** The position a timeline cursor holds, or null when the text is not a timeline cursor. */
function decodeCursor(cursor: string): { at: string; id: string } | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return null;
  const [at, id] = parsed as unknown[];
  if (typeof at !== 'string' || typeof id !== 'string' || !UUID.test(id)) return null;
  const ms = CURSOR_AT.exec(at)?.[1];
  if (!ms) return null;
  // Date rolls a day that does not exist (02-30) over to the next month: only a real instant reads back the same.
  const instant = new Date(`${ms}Z`);
  return !Number.isNaN(instant.getTime()) && instant.toISOString() === `${ms}Z` ? { at, id } : null;
}

/** A contact's timeline, newest first, paged by (occurredAt, id). */
export async function timeline(
  deps: CrmDeps,
  organizationId: string,
  contactId: string,
  first: number,
  after?: string | null,
): Promise<Result<TimelinePage, ValidationError>> {
  const limit = Math.min(Math.max(first, 0), 100);
  let cursor: SQL | undefined;
  if (after) {
    const position = decodeCursor(after);
    if (!position) return fail(new ValidationError([{ path: ['after'], message: 'is not a cursor of this timeline' }]));
    cursor = sql`(${activities.occurredAt}, ${activities.id}) < (${position.at}::timestamptz, ${position.id}::uuid)`;
  }
  const rows = await deps.handle.db
    .select({
      activity: activities,
      at: sql<string>`to_char(${activities.occurredAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(activities)
    .where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, contactId), cursor))
    .orderBy(desc(activities.occurredAt), desc(activities.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return ok({
    items: page.map((r) => r.activity),
    hasNextPage: rows.length > limit,
    endCursor: last ? encodeCursor(last.at, last.activity.id) : null,
  });
}
