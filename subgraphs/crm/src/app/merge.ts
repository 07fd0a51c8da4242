// Merging two records of the same person. The winner keeps every value it has; where it has
// none, it takes the loser's. Tags, do-not-contact entries, company links, notes, activities
// and static segment memberships move to the winner; points add up. The loser is deleted, the
// winner's dynamic segments are re-evaluated, and its new snapshot is published (crm.contact.updated,
// and crm.contact.companies-changed when it took companies) so the other contexts' copies keep what
// it took from the loser.
import { authorize, catalogue, createEvent, fail, NotFoundError, ok, type RequestContext } from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import { recordOwnActivity } from '../db/activities.ts';
import {
  activities,
  contactCompanies,
  contactGroupPoints,
  contactIdentities,
  contacts,
  doNotContact,
  notes,
  outbox,
  segmentMembers,
  segments,
} from '../db/schema.ts';
import { companyLinksEvent, dropCompanyLinks } from './companies.ts';
import { type ContactRow, snapshot } from './contacts.ts';
import type { CrmDeps } from './deps.ts';
import { leaveAllSegments, reevaluateMemberships } from './segment-membership.ts';
import { recordStageChange } from './stages.ts';

export const mergeInput = z.object({ winnerId: z.uuid(), loserId: z.uuid() }).refine((m) => m.winnerId !== m.loserId, {
  message: 'a contact cannot be merged into itself',
  path: ['loserId'],
});

const STANDARD = [
  'email',
  'firstName',
  'lastName',
  'phone',
  'timezone',
  'locale',
  'ownerId',
  'stageId',
  'lastActiveAt',
] as const;

/** The winner's values, with the loser's filling what the winner lacks. Pure. */
export function mergedValues(winner: ContactRow, loser: ContactRow) {
  const values: Partial<Record<(typeof STANDARD)[number], unknown>> = {};
  for (const key of STANDARD) if (winner[key] === null && loser[key] !== null) values[key] = loser[key];
  if (winner.lastActiveAt && loser.lastActiveAt && loser.lastActiveAt > winner.lastActiveAt)
    values.lastActiveAt = loser.lastActiveAt;
  return {
    ...values,
    fields: { ...loser.fields, ...winner.fields },
    tags: [...new Set([...winner.tags, ...loser.tags])],
    points: winner.points + loser.points,
  };
}

const FILTER_NAMES: Partial<Record<(typeof STANDARD)[number], string>> = { ownerId: 'owner', stageId: 'stage' };

/** What merging changes on the winner, in the names segment filters use (`lastName`, `fields.city`...). Pure. */
export function mergeChanges(winner: ContactRow, loser: ContactRow): string[] {
  const values = mergedValues(winner, loser);
  const names = STANDARD.filter((key) => key in values).map((key) => FILTER_NAMES[key] ?? key);
  for (const key of Object.keys(loser.fields)) if (!(key in winner.fields)) names.push(`fields.${key}`);
  if (values.tags.length !== winner.tags.length) names.push('tags');
  if (loser.points !== 0) names.push('points');
  return names;
}

export async function mergeContacts(deps: CrmDeps, ctx: RequestContext, raw: z.input<typeof mergeInput>) {
  const access = authorize(ctx, 'crm:write', mergeInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const { winnerId, loserId } = input;
  const { correlationId } = ctx;
  return deps.handle.db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(contacts)
      .where(and(eq(contacts.organizationId, organizationId), inArray(contacts.id, [winnerId, loserId])))
      .for('update');
    const winner = rows.find((r) => r.id === winnerId);
    const loser = rows.find((r) => r.id === loserId);
    if (!winner) return fail(new NotFoundError('Contact', winnerId));
    if (!loser) return fail(new NotFoundError('Contact', loserId));
    const pair: MergePair = { organizationId, winnerId, loserId, correlationId };
    await moveStaticMemberships(tx, pair);
    await moveLoserRecords(tx, pair);
    const loserLinks = await dropCompanyLinks(tx, organizationId, loserId, correlationId);
    const merged = await replaceLoser(tx, pair, mergedValues(winner, loser));
    // A winner without a stage takes the loser's: a move in its history like any other.
    await recordStageChange(
      tx,
      ctx,
      { organizationId, contactId: winnerId, from: winner.stageId, to: merged.stageId },
      'merge',
    );
    await recordOwnActivity(tx, { organizationId, contactId: winnerId, type: 'contact.merged', subject: loserId });
    const base = { organizationId, subjectId: winnerId, correlationId };
    await appendEvents(tx, outbox, [
      createEvent(catalogue.crm.contactMerged, { ...base, data: { winnerId, loserId } }),
      createEvent(catalogue.crm.contactUpdated, {
        ...base,
        data: { contact: snapshot(merged), changed: mergeChanges(winner, loser) },
      }),
      ...loserLinks,
      ...(loserLinks.length ? [await companyLinksEvent(tx, organizationId, winnerId, correlationId)] : []),
    ]);
    await reevaluateMemberships(tx, deps, { organizationId, contactIds: [winnerId], changed: '*', correlationId });
    return ok(merged);
  });
}

interface MergePair {
  organizationId: string;
  winnerId: string;
  loserId: string;
  correlationId: string;
}

/** The loser's static memberships move to the winner; the loser then leaves every segment (with exit events). */
async function moveStaticMemberships(tx: Executor, { organizationId, winnerId, loserId, correlationId }: MergePair) {
  const staticIds = (
    await tx
      .select({ id: segments.id })
      .from(segments)
      .where(and(eq(segments.organizationId, organizationId), eq(segments.kind, 'static')))
  ).map((s) => s.id);
  const loserStatic = staticIds.length
    ? await tx
        .select({ segmentId: segmentMembers.segmentId })
        .from(segmentMembers)
        .where(and(eq(segmentMembers.contactId, loserId), inArray(segmentMembers.segmentId, staticIds)))
    : [];
  await leaveAllSegments(tx, organizationId, [loserId], correlationId);
  if (loserStatic.length === 0) return;
  const added = await tx
    .insert(segmentMembers)
    .values(loserStatic.map((m) => ({ organizationId, segmentId: m.segmentId, contactId: winnerId })))
    .onConflictDoNothing()
    .returning({ segmentId: segmentMembers.segmentId });
  for (const m of added)
    await tx
      .update(segments)
      .set({ memberCount: sql`${segments.memberCount} + 1` })
      .where(eq(segments.id, m.segmentId));
  await appendEvents(
    tx,
    outbox,
    added.map((m) =>
      createEvent(catalogue.crm.segmentEntered, {
        organizationId,
        subjectId: winnerId,
        correlationId,
        data: { segmentId: m.segmentId },
      }),
    ),
  );
}

/** Do-not-contact entries and company links are copied to the winner; notes and activities move. */
async function moveLoserRecords(tx: Executor, { organizationId, winnerId, loserId }: MergePair) {
  await tx.execute(sql`
    insert into ${doNotContact} (organization_id, contact_id, channel, reason, source, created_at)
    select organization_id, ${winnerId}, channel, reason, source, created_at from ${doNotContact} where contact_id = ${loserId}
    on conflict do nothing`);
  await tx.execute(sql`
    insert into ${contactCompanies} (organization_id, contact_id, company_id, is_primary)
    select organization_id, ${winnerId}, company_id,
      is_primary and not exists (select 1 from ${contactCompanies} w where w.contact_id = ${winnerId} and w.is_primary)
    from ${contactCompanies} where contact_id = ${loserId}
    on conflict do nothing`);
  // Group scores add up, as the default points do; the stage history and trigger firings stay the winner's.
  await tx.execute(sql`
    insert into ${contactGroupPoints} (organization_id, contact_id, group_id, points)
    select organization_id, ${winnerId}, group_id, points from ${contactGroupPoints} where contact_id = ${loserId}
    on conflict (contact_id, group_id) do update set points = ${contactGroupPoints}.points + excluded.points`);
  await tx.update(notes).set({ contactId: winnerId }).where(eq(notes.contactId, loserId));
  await tx
    .update(activities)
    .set({ contactId: winnerId })
    .where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, loserId)));
  // The ids a source knew the loser by (userId, anonymousId) name the winner from now on.
  await tx
    .update(contactIdentities)
    .set({ contactId: winnerId })
    .where(and(eq(contactIdentities.organizationId, organizationId), eq(contactIdentities.contactId, loserId)));
}

/** Deletes the loser (first: its email must be free before the winner may take it) and writes the winner's merged values. */
async function replaceLoser(
  tx: Executor,
  { winnerId, loserId }: MergePair,
  values: ReturnType<typeof mergedValues>,
): Promise<ContactRow> {
  await tx.delete(contacts).where(eq(contacts.id, loserId));
  const [merged] = await tx
    .update(contacts)
    .set({ ...values, updatedAt: sql`now()` } as never)
    .where(eq(contacts.id, winnerId))
    .returning();
  return merged!;
}
