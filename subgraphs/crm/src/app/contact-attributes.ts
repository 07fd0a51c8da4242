// Tags, points, stages and do-not-contact: small changes to a contact that segments and
// journeys react to, each with its event and its segment re-evaluation.
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
import { contacts, doNotContact, outbox, stages } from '../db/schema.ts';
import { normalizeTag } from './contact-values.ts';
import type { ContactRow } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { groupExists, recordPoints, scorePoints } from './points.ts';
import { reevaluateMemberships } from './segment-membership.ts';

export type StageRow = typeof stages.$inferSelect;
export type DncRow = typeof doNotContact.$inferSelect;

async function owned(tx: Executor, organizationId: string, contactId: string) {
  const [row] = await tx
    .select()
    .from(contacts)
    .where(and(eq(contacts.id, contactId), eq(contacts.organizationId, organizationId)))
    .for('update');
  return row;
}

export const tagInput = z.object({
  contactId: z.uuid(),
  add: z.array(z.string().trim().min(1).max(64)).max(100).default([]),
  remove: z.array(z.string().trim().min(1).max(64)).max(100).default([]),
});

export async function tagContact(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof tagInput>) {
  const access = authorize(ctx, 'crm:write', tagInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const add = [...new Set(input.add.map(normalizeTag))];
  const remove = [...new Set(input.remove.map(normalizeTag))].filter((t) => !add.includes(t));
  return deps.handle.db.transaction(async (tx) => {
    const contact = await owned(tx, organizationId, input.contactId);
    if (!contact) return fail(new NotFoundError('Contact', input.contactId));
    const added = add.filter((t) => !contact.tags.includes(t));
    const removed = remove.filter((t) => contact.tags.includes(t));
    if (added.length === 0 && removed.length === 0) return ok(contact);
    const tags = [...contact.tags.filter((t) => !removed.includes(t)), ...added];
    const [row] = await tx
      .update(contacts)
      .set({ tags, updatedAt: sql`now()` })
      .where(eq(contacts.id, contact.id))
      .returning();
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.contactTagged, {
        organizationId,
        subjectId: contact.id,
        correlationId: ctx.correlationId,
        data: { added, removed },
      }),
    ]);
    await recordOwnActivity(tx, {
      organizationId,
      contactId: contact.id,
      type: 'contact.tagged',
      properties: { added, removed },
    });
    await reevaluateMemberships(tx, deps, {
      organizationId,
      contactIds: [contact.id],
      changed: ['tags'],
      correlationId: ctx.correlationId,
    });
    return ok(row!);
  });
}

export const pointsInput = z.object({
  contactId: z.uuid(),
  delta: z.number().int().min(-1_000_000).max(1_000_000),
  reason: z.string().trim().max(200).optional(),
  /** A point group's score instead of the default one. */
  groupId: z.uuid().nullable().optional(),
});

export async function adjustPoints(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof pointsInput>) {
  const access = authorize(ctx, 'crm:write', pointsInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const groupId = input.groupId ?? null;
  return deps.handle.db.transaction(async (tx) => {
    const change = {
      organizationId,
      contactId: input.contactId,
      groupId,
      delta: input.delta,
      ...(input.reason ? { reason: input.reason } : {}),
      correlationId: ctx.correlationId,
    };
    let row: ContactRow | undefined;
    if (groupId === null) {
      // The default score: one update, as before groups (and the contact's row comes back with it).
      [row] = await tx
        .update(contacts)
        .set({ points: sql`${contacts.points} + ${input.delta}`, updatedAt: sql`now()` })
        .where(and(eq(contacts.id, input.contactId), eq(contacts.organizationId, organizationId)))
        .returning();
      if (!row) return fail(new NotFoundError('Contact', input.contactId));
      // A trigger that fired may have moved the contact's stage or tags: answer the contact as it is now.
      if (await recordPoints(tx, deps, change, row.points))
        [row] = await tx.select().from(contacts).where(eq(contacts.id, row.id));
    } else {
      row = await owned(tx, organizationId, input.contactId);
      if (!row) return fail(new NotFoundError('Contact', input.contactId));
      if (!(await groupExists(tx, organizationId, groupId))) return fail(new NotFoundError('PointGroup', groupId));
      await scorePoints(tx, deps, change);
      [row] = await tx.select().from(contacts).where(eq(contacts.id, row.id));
    }
    await reevaluateMemberships(tx, deps, {
      organizationId,
      contactIds: [input.contactId],
      changed: ['points'],
      correlationId: ctx.correlationId,
    });
    return ok(row!);
  });
}

export const stageInput = z.object({
  name: z.string().trim().min(1).max(100),
  position: z.number().int().min(0).max(10_000),
});

export async function createStage(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof stageInput>) {
  const access = authorize(ctx, 'crm:admin', stageInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [row] = await deps.handle.db
    .insert(stages)
    .values({ id: newId(), organizationId, ...input })
    .onConflictDoNothing()
    .returning();
  if (!row) return fail(new ValidationError([{ path: ['input', 'name'], message: 'a stage with this name exists' }]));
  return ok(row);
}

export async function listStages(deps: CrmDeps, ctx: RequestContext): Promise<Result<StageRow[]>> {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  return ok(
    await deps.handle.db
      .select()
      .from(stages)
      .where(eq(stages.organizationId, access.value.organizationId))
      .orderBy(asc(stages.position), asc(stages.name)),
  );
}

export const dncInput = z.object({
  contactId: z.uuid(),
  channel: z.enum(['email', 'sms', 'push']),
  doNotContact: z.boolean(),
  reason: z.enum(['unsubscribed', 'bounced', 'complaint', 'manual']).default('manual'),
  source: z.string().trim().max(200).optional(),
});

/**
 * Marks or clears do-not-contact on one channel; used by the API and by delivery's events.
 * Gives back the contact (its entries are read through it).
 */
export async function setDoNotContactInTx(
  tx: Executor,
  deps: CrmDeps,
  organizationId: string,
  input: z.output<typeof dncInput>,
  correlationId: string,
): Promise<Result<ContactRow, NotFoundError>> {
  const contact = await owned(tx, organizationId, input.contactId);
  if (!contact) return fail(new NotFoundError('Contact', input.contactId));
  const where = and(eq(doNotContact.contactId, contact.id), eq(doNotContact.channel, input.channel));
  let changed: boolean;
  if (input.doNotContact) {
    const inserted = await tx
      .insert(doNotContact)
      .values({
        organizationId,
        contactId: contact.id,
        channel: input.channel,
        reason: input.reason,
        source: input.source ?? null,
      })
      .onConflictDoNothing()
      .returning();
    changed = inserted.length > 0;
  } else {
    changed = (await tx.delete(doNotContact).where(where).returning()).length > 0;
  }
  if (changed) {
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.dncChanged, {
        organizationId,
        subjectId: contact.id,
        correlationId,
        data: {
          channel: input.channel,
          doNotContact: input.doNotContact,
          ...(input.doNotContact ? { reason: input.reason } : {}),
          ...(input.source ? { source: input.source } : {}),
        },
      }),
    ]);
    await recordOwnActivity(tx, {
      organizationId,
      contactId: contact.id,
      type: 'dnc.changed',
      subject: input.channel,
      properties: { doNotContact: input.doNotContact, reason: input.reason },
    });
    await reevaluateMemberships(tx, deps, {
      organizationId,
      contactIds: [contact.id],
      changed: ['dnc'],
      correlationId,
    });
  }
  return ok(contact);
}

export async function setDoNotContact(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof dncInput>) {
  const access = authorize(ctx, 'crm:write', dncInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  return deps.handle.db.transaction((tx) => setDoNotContactInTx(tx, deps, organizationId, input, ctx.correlationId));
}

/** The do-not-contact entries of these contacts of one organization. */
export async function dncOfContacts(
  deps: CrmDeps,
  organizationId: string,
  contactIds: readonly string[],
): Promise<DncRow[]> {
  return deps.handle.db
    .select()
    .from(doNotContact)
    .where(and(eq(doNotContact.organizationId, organizationId), inArray(doNotContact.contactId, [...contactIds])));
}

export const dncOf = (deps: CrmDeps, organizationId: string, contactId: string) =>
  dncOfContacts(deps, organizationId, [contactId]);
