// References stay inside the organization: a contact's owner must be a member of the caller's
// organization (CRM's projection of identity's member events), and a segment named in a filter
// must be one of its segments, on every path that takes one.
import { Readable } from 'node:stream';
import { catalogue, createEvent, type FieldIssue, newId, type Result, unwrap } from '@mauntic/kernel';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_CONSUMER } from '../src/app/consumers.ts';
import { organizationMembers } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

/** The paths of a ValidationError's issues (and its type), or what came instead. */
const refused = (result: Result<unknown>) =>
  result.ok
    ? 'accepted'
    : {
        type: result.error.type,
        paths: (result.error as { issues?: FieldIssue[] }).issues?.map((i) => i.path.join('.')),
      };

describe.each(DATABASES)('references inside the organization (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  /** Identity announcing a member, delivered to CRM's consumer as the bus would. */
  const memberAdded = (organizationId: string, userId: string) =>
    createEvent(catalogue.identity.memberAdded, {
      organizationId,
      subjectId: userId,
      correlationId: newId(),
      data: { userId, role: 'editor' },
    });
  const deliver = async (event: ReturnType<typeof memberAdded>) => {
    const consumer = crm.services.subscriptions().find((s) => s.group === IDENTITY_CONSUMER)!;
    await consumer.handle(event, { attempt: 1, topic: 'mauntic.identity.events' });
  };
  /** Two organizations, each with a member of its own known to CRM. */
  const twoOrganizations = async () => {
    const [a, b] = [newOrg(), newOrg()];
    const [mine, theirs] = [newId(), newId()];
    await deliver(memberAdded(a.organizationId, mine));
    await deliver(memberAdded(b.organizationId, theirs));
    return { a, mine, theirs };
  };

  it('keeps the members identity announces, once however often an event is delivered', async () => {
    const ctx = newOrg();
    const userId = newId();
    const event = memberAdded(ctx.organizationId, userId);
    await deliver(event);
    await deliver(event);
    await deliver(memberAdded(ctx.organizationId, userId));
    const rows = await crm.handle.db
      .select()
      .from(organizationMembers)
      .where(eq(organizationMembers.organizationId, ctx.organizationId));
    expect(rows.map((r) => r.userId)).toEqual([userId]);
  });

  it("refuses another organization's user, or one not known yet, as a contact's owner on every write", async () => {
    const { a, mine, theirs } = await twoOrganizations();
    const s = crm.services;
    const unknown = newId();
    for (const ownerId of [theirs, unknown]) {
      expect(refused(await s.createContact(a, { email: 'x@example.com', ownerId }))).toEqual({
        type: 'validation',
        paths: ['input.ownerId'],
      });
      expect(refused(await s.upsertContact(a, { email: 'x@example.com', ownerId }))).toEqual({
        type: 'validation',
        paths: ['input.ownerId'],
      });
    }
    const created = await s.createContact(a, { email: 'x@example.com', ownerId: mine });
    expect(unwrap(created).ownerId).toBe(mine);
    expect(refused(await s.updateContact(a, unwrap(created).id, { ownerId: theirs }))).toEqual({
      type: 'validation',
      paths: ['input.ownerId'],
    });
    const failed = await s.createContact(a, { email: 'y@example.com', ownerId: unknown });
    expect(failed.ok || failed.error.message).toMatch(/not a user of this organization.*just joined/);

    const batch = unwrap(
      await s.batchUpsertContacts(a, [
        { email: 'b1@example.com', ownerId: mine },
        { email: 'b2@example.com', ownerId: theirs },
      ]),
    );
    expect(batch.map((r) => ('error' in r ? r.error.issues.map((i) => i.path.join('.')) : r.contact.ownerId))).toEqual([
      mine,
      ['input.contacts.1.ownerId'],
    ]);

    const summary = unwrap(
      await s.importContacts(a, {
        importId: newId(),
        source: Readable.from([Buffer.from(`email,owner\ni1@example.com,${mine}\ni2@example.com,${theirs}\n`)]),
        mapping: { email: 'email', owner: 'ownerId' },
      }),
    );
    expect(summary).toMatchObject({ rowsDone: 1, rowsFailed: 1 });
    const [rejected] = await s.importErrors(a.organizationId, summary.importId, 0, 10);
    expect(rejected).toMatchObject({ rowNumber: 2 });
    expect(rejected!.messages.join()).toMatch(/^owner: ownerId is not a user of this organization/);
    // Nothing of what was refused was written.
    const owners = unwrap(await s.listContacts(a, { first: 50 })).edges.map((e) => e.node.ownerId);
    expect(owners).not.toContain(theirs);
    expect(owners).not.toContain(unknown);
  });

  it("refuses another organization's segment in a filter wherever contacts are listed, exported or moved by filter", async () => {
    const { a } = await twoOrganizations();
    const b = newOrg();
    const s = crm.services;
    unwrap(await s.createContact(a, { email: 'a@example.com' }));
    const theirs = unwrap(await s.createSegment(b, { name: 'theirs', kind: 'static' }));
    const mine = unwrap(await s.createSegment(a, { name: 'mine', kind: 'static' }));
    const inSegment = (id: string) => ({ segment: { id, member: false } });
    const unknownSegment = (paths: string[]) => ({ type: 'validation', paths });

    expect(refused(await s.previewSegment(a, inSegment(theirs.id), 10))).toEqual(
      unknownSegment(['input.filter.segment.id']),
    );
    expect(refused(await s.listContacts(a, { filter: inSegment(theirs.id) }))).toEqual(
      unknownSegment(['filter.segment.id']),
    );
    expect(refused(await s.exportContacts(a, inSegment(theirs.id)))).toEqual(
      unknownSegment(['filter.filter.segment.id']),
    );
    expect(refused(await s.createContactExport(a, { filter: inSegment(theirs.id) }))).toEqual(
      unknownSegment(['input.filter.segment.id']),
    );
    expect(refused(await s.changeStaticMembers(a, mine.id, { filter: inSegment(theirs.id) }, 'add'))).toEqual(
      unknownSegment(['input.filter.segment.id']),
    );
    // The organization's own segment is fine everywhere.
    expect(unwrap(await s.listContacts(a, { filter: inSegment(mine.id) })).totalCount).toBe(1);
    expect(unwrap(await s.changeStaticMembers(a, mine.id, { filter: inSegment(mine.id) }, 'add')).memberCount).toBe(1);
  });
});
