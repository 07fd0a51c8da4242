// GDPR: a person's data as one JSON document (right of access), and erasure (right to be
// forgotten): the contact and everything personal about it goes; what it did stays as anonymous
// activity rows, so counts and reports keep adding up.
import { authorize, catalogue, createEvent, fail, NotFoundError, ok, type RequestContext } from '@mauntic/kernel';
import { appendEvents } from '@mauntic/platform';
import { and, asc, eq, sql } from 'drizzle-orm';
import { activities, contacts, doNotContact, notes, outbox, segmentMembers, segments } from '../db/schema.ts';
import { companiesOf, dropCompanyLinks } from './companies.ts';
import type { CrmDeps } from './deps.ts';
import { leaveAllSegments } from './segment-membership.ts';

export async function exportContactData(deps: CrmDeps, ctx: RequestContext, contactId: string) {
  const access = authorize(ctx, 'crm:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const db = deps.handle.db;
  const [contact] = await db
    .select()
    .from(contacts)
    .where(and(eq(contacts.id, contactId), eq(contacts.organizationId, organizationId)));
  if (!contact) return fail(new NotFoundError('Contact', contactId));
  const [companyRows, noteRows, activityRows, dncRows, memberships] = await Promise.all([
    companiesOf(deps, organizationId, contactId),
    db
      .select()
      .from(notes)
      .where(and(eq(notes.organizationId, organizationId), eq(notes.contactId, contactId))),
    db
      .select()
      .from(activities)
      .where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, contactId)))
      .orderBy(asc(activities.occurredAt)),
    db
      .select()
      .from(doNotContact)
      .where(and(eq(doNotContact.organizationId, organizationId), eq(doNotContact.contactId, contactId))),
    db
      .select({ id: segments.id, name: segments.name, since: segmentMembers.addedAt })
      .from(segmentMembers)
      .innerJoin(segments, eq(segments.id, segmentMembers.segmentId))
      .where(and(eq(segmentMembers.organizationId, organizationId), eq(segmentMembers.contactId, contactId))),
  ]);
  const { organizationId: _org, ...person } = contact;
  return ok({
    exportedAt: new Date().toISOString(),
    contact: person,
    companies: companyRows.map(({ organizationId: _o, ...c }) => c),
    notes: noteRows.map(({ organizationId: _o, ...n }) => n),
    activities: activityRows.map(({ organizationId: _o, ...a }) => a),
    doNotContact: dncRows.map(({ organizationId: _o, ...d }) => d),
    segments: memberships,
  });
}

export async function eraseContact(deps: CrmDeps, ctx: RequestContext, contactId: string) {
  const access = authorize(ctx, 'crm:admin');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  return deps.handle.db.transaction(async (tx) => {
    const [contact] = await tx
      .select({ id: contacts.id })
      .from(contacts)
      .where(and(eq(contacts.id, contactId), eq(contacts.organizationId, organizationId)))
      .for('update');
    if (!contact) return fail(new NotFoundError('Contact', contactId));
    await leaveAllSegments(tx, organizationId, [contactId], ctx.correlationId);
    await tx.delete(notes).where(eq(notes.contactId, contactId));
    // What happened stays countable; what it said about the person does not.
    await tx
      .update(activities)
      .set({
        properties: sql`'{}'::jsonb`,
        subject: sql`case when ${activities.type} in ('page.visited', 'note.added') then null else ${activities.subject} end`,
      })
      .where(and(eq(activities.organizationId, organizationId), eq(activities.contactId, contactId)));
    const links = await dropCompanyLinks(tx, organizationId, contactId, ctx.correlationId);
    await tx.delete(contacts).where(eq(contacts.id, contactId)); // do-not-contact entries cascade
    await appendEvents(tx, outbox, [
      ...links,
      createEvent(catalogue.crm.contactDeleted, {
        organizationId,
        subjectId: contactId,
        correlationId: ctx.correlationId,
        data: { erased: true },
      }),
    ]);
    return ok({ id: contactId });
  });
}
