// Companies, notes, custom events and the timeline, merge and GDPR, on both databases.
import { unwrap } from '@mauntic/kernel';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergedValues } from '../src/app/merge.ts';
import { activities, outbox } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

describe.each(DATABASES)('contact relations (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  it('links companies with one primary, validates company fields, and segments follow company changes', async () => {
    const ctx = newOrg();
    const s = crm.services;
    unwrap(await s.createField(ctx, { entity: 'company', key: 'size', label: 'Size', type: 'number' }));
    const acme = unwrap(await s.createCompany(ctx, { name: 'Acme', domain: 'ACME.com', fields: { size: '120' } }));
    expect(acme).toMatchObject({ domain: 'acme.com', fields: { size: 120 } });
    const bad = await s.createCompany(ctx, { name: 'Bad', fields: { size: 'big', nope: 1 } });
    expect(bad.ok).toBe(false);
    const other = unwrap(await s.createCompany(ctx, { name: 'Other' }));
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const big = unwrap(
      await s.createSegment(ctx, {
        name: 'big companies',
        filter: { field: 'company.fields.size', op: 'gte', value: 100 },
      }),
    );
    unwrap(await s.rebuildSegment(ctx, big.id));

    unwrap(await s.linkCompany(ctx, { contactId: ada.id, companyId: acme.id, primary: true }, true));
    const linked = unwrap(await s.linkCompany(ctx, { contactId: ada.id, companyId: other.id, primary: true }, true));
    expect(linked.companies.map((c) => [c.name, c.isPrimary])).toEqual([
      ['Other', true],
      ['Acme', false],
    ]);
    expect(unwrap(await s.getSegment(ctx, big.id))?.memberCount).toBe(1);
    unwrap(await s.updateCompany(ctx, acme.id, { fields: { size: 10 } }));
    expect(unwrap(await s.getSegment(ctx, big.id))?.memberCount).toBe(0);
    const foreign = newOrg();
    expect((await s.linkCompany(foreign, { contactId: ada.id, companyId: acme.id }, true)).ok).toBe(false);
  });

  it('records custom events on the timeline, moves lastActiveAt, and feeds behavioural segments', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const buyers = unwrap(
      await s.createSegment(ctx, {
        name: 'pro buyers',
        filter: {
          behavior: { type: 'event', subject: 'purchase', properties: { plan: 'pro' }, count: { op: 'gte', value: 2 } },
        },
      }),
    );
    unwrap(await s.rebuildSegment(ctx, buyers.id));
    unwrap(await s.trackContactEvent(ctx, { email: 'ADA@example.com', name: 'purchase', properties: { plan: 'pro' } }));
    expect(unwrap(await s.getSegment(ctx, buyers.id))?.memberCount).toBe(0);
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase', properties: { plan: 'pro' } }));
    expect(unwrap(await s.getSegment(ctx, buyers.id))?.memberCount).toBe(1);
    const after = unwrap(await s.getContact(ctx, ada.id));
    expect(after?.lastActiveAt).not.toBeNull();

    unwrap(await s.addNote(ctx, { contactId: ada.id, type: 'call', body: 'Called about renewal' }));
    const page = unwrap(await s.timeline(ctx.organizationId, ada.id, 2));
    expect(page.items.map((a) => a.type)).toEqual(['note.added', 'event']);
    expect(page.hasNextPage).toBe(true);
    const rest = unwrap(await s.timeline(ctx.organizationId, ada.id, 10, page.endCursor));
    expect(rest.items.map((a) => a.type)).toEqual(['event', 'contact.created']);
    expect((await s.trackContactEvent(ctx, { email: 'nobody@example.com', name: 'x' })).ok).toBe(false);
  });

  it('merges two contacts by clear rules and moves their history', async () => {
    const ctx = newOrg();
    const s = crm.services;
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'plan', label: 'Plan', type: 'text' }));
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'city', label: 'City', type: 'text' }));
    const winner = unwrap(
      await s.createContact(ctx, {
        email: 'ada@work.example',
        firstName: 'Ada',
        tags: ['vip'],
        fields: { plan: 'pro' },
      }),
    );
    const loser = unwrap(
      await s.createContact(ctx, {
        email: 'ada@home.example',
        firstName: 'Augusta',
        lastName: 'King',
        phone: '+442071234567',
        tags: ['beta'],
        fields: { plan: 'free', city: 'London' },
      }),
    );
    unwrap(await s.adjustPoints(ctx, { contactId: winner.id, delta: 5 }));
    unwrap(await s.adjustPoints(ctx, { contactId: loser.id, delta: 7 }));
    unwrap(
      await s.setDoNotContact(ctx, { contactId: loser.id, channel: 'sms', doNotContact: true, reason: 'unsubscribed' }),
    );
    unwrap(await s.addNote(ctx, { contactId: loser.id, body: 'met at a conference' }));
    const manual = unwrap(await s.createSegment(ctx, { name: 'manual', kind: 'static' }));
    unwrap(await s.changeStaticMembers(ctx, manual.id, [loser.id], 'add'));

    const merged = unwrap(await s.mergeContacts(ctx, { winnerId: winner.id, loserId: loser.id }));
    expect(merged).toMatchObject({
      id: winner.id,
      email: 'ada@work.example',
      firstName: 'Ada',
      lastName: 'King',
      phone: '+442071234567',
      points: 12,
      fields: { plan: 'pro', city: 'London' },
    });
    expect([...merged.tags].sort()).toEqual(['beta', 'vip']);
    expect(unwrap(await s.getContact(ctx, loser.id))).toBeNull();
    expect((await s.dncOf(ctx.organizationId, winner.id)).map((d) => d.channel)).toEqual(['sms']);
    expect((await s.notesOf(ctx.organizationId, winner.id)).map((n) => n.body)).toEqual(['met at a conference']);
    expect(unwrap(await s.getSegment(ctx, manual.id))?.memberCount).toBe(1);
    const events = await crm.handle.rows<{ type: string }>(
      sql`select ${outbox.type} as type from ${outbox} where ${outbox.organizationId} = ${ctx.organizationId} and ${outbox.type} = 'crm.contact.merged'`,
    );
    expect(events).toHaveLength(1);
    expect((await s.mergeContacts(ctx, { winnerId: winner.id, loserId: winner.id })).ok).toBe(false);
  });

  it('adds and removes static members by filter, with events, and segments built on it follow', async () => {
    const ctx = newOrg();
    const s = crm.services;
    for (const [i, tags] of [['vip'], ['vip'], ['beta']].entries())
      unwrap(await s.createContact(ctx, { email: `c${i}@example.com`, tags }));
    const list = unwrap(await s.createSegment(ctx, { name: 'list', kind: 'static' }));
    const onList = unwrap(
      await s.createSegment(ctx, { name: 'on list', filter: { segment: { id: list.id, member: true } } }),
    );
    unwrap(await s.rebuildSegment(ctx, onList.id));
    const added = unwrap(
      await s.changeStaticMembers(ctx, list.id, { filter: { tags: { op: 'includesAny', value: ['vip'] } } }, 'add'),
    );
    expect(added.memberCount).toBe(2);
    expect(unwrap(await s.getSegment(ctx, onList.id))?.memberCount).toBe(2);
    const again = unwrap(await s.changeStaticMembers(ctx, list.id, { filter: { tags: { op: 'notEmpty' } } }, 'add'));
    expect(again.memberCount).toBe(3);
    const removed = unwrap(
      await s.changeStaticMembers(
        ctx,
        list.id,
        { filter: { field: 'email', op: 'eq', value: 'c0@example.com' } },
        'remove',
      ),
    );
    expect(removed.memberCount).toBe(2);
    expect(unwrap(await s.getSegment(ctx, onList.id))?.memberCount).toBe(2);
    const events = await crm.handle.rows<{ type: string; n: number }>(
      sql`select ${outbox.type} as type, count(*)::int as n from ${outbox}
          where ${outbox.organizationId} = ${ctx.organizationId} and ${outbox.envelope} -> 'data' ->> 'segmentId' = ${list.id}
          group by 1 order by 1`,
    );
    expect(events).toEqual([
      { type: 'crm.segment.entered', n: 3 },
      { type: 'crm.segment.exited', n: 1 },
    ]);
    const bad = await s.changeStaticMembers(ctx, list.id, { filter: { field: 'nope', op: 'eq', value: 1 } }, 'add');
    expect(bad.ok).toBe(false);
  });

  it('fills only what the winner lacks', () => {
    const base = {
      id: 'w',
      organizationId: 'o',
      email: null,
      firstName: 'A',
      lastName: null,
      phone: null,
      timezone: null,
      locale: null,
      ownerId: null,
      stageId: null,
      points: 1,
      fields: { a: 1 },
      tags: ['x'],
      createdAt: new Date(),
      updatedAt: new Date(),
      lastActiveAt: null,
    };
    const values = mergedValues(base, {
      ...base,
      id: 'l',
      email: 'l@example.com',
      firstName: 'B',
      points: 2,
      fields: { a: 2, b: 3 },
      tags: ['y', 'x'],
    });
    expect(values).toMatchObject({ email: 'l@example.com', points: 3, fields: { a: 1, b: 3 }, tags: ['x', 'y'] });
    expect(values).not.toHaveProperty('firstName');
  });

  it('exports one contact as JSON and erases it, keeping anonymous activity', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com', firstName: 'Ada' }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase', properties: { card: '4242' } }));
    unwrap(await s.addNote(ctx, { contactId: ada.id, body: 'private' }));
    const doc = unwrap(await s.exportContactData(ctx, ada.id));
    expect(doc.contact).toMatchObject({ email: 'ada@example.com', firstName: 'Ada' });
    expect(doc.notes.map((n) => n.body)).toEqual(['private']);
    expect(doc.activities.map((a) => a.type).sort()).toEqual(['contact.created', 'event', 'note.added']);
    expect(JSON.stringify(doc)).not.toContain(ctx.organizationId);

    expect((await s.eraseContact({ ...ctx, scopes: ['*:read', '*:write'] }, ada.id)).ok).toBe(false);
    unwrap(await s.eraseContact(ctx, ada.id));
    expect(unwrap(await s.getContact(ctx, ada.id))).toBeNull();
    const left = await crm.handle.db
      .select()
      .from(activities)
      .where(and(eq(activities.organizationId, ctx.organizationId), eq(activities.contactId, ada.id)));
    expect(left.map((a) => a.type).sort()).toEqual(['contact.created', 'event', 'note.added']);
    expect(left.every((a) => Object.keys(a.properties).length === 0)).toBe(true);
    expect((await s.exportContactData(ctx, ada.id)).ok).toBe(false);
  });
});
