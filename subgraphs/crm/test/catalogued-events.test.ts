// What CRM publishes for the other contexts (journeys trigger on custom events and check the segments
// and fields a definition names; delivery and journeys keep copies of contacts): each change writes
// its catalogued event through the outbox, in the transaction of the change.
import { type EventEnvelope, parseEvent, unwrap } from '@mauntic/kernel';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contacts, outbox } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

describe.each(DATABASES)('catalogued events (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  beforeAll(async () => {
    crm = await openCrm(open);
  });
  afterAll(() => crm?.close());

  /** The organization's outbox events of these types, in the order written, parsed against the catalogue. */
  const published = async (organizationId: string, ...types: string[]): Promise<EventEnvelope[]> => {
    const rows = await crm.handle.db
      .select()
      .from(outbox)
      .where(
        and(
          eq(outbox.organizationId, organizationId),
          sql`${outbox.type} in (${sql.join(
            types.map((t) => sql`${t}`),
            sql`, `,
          )})`,
        ),
      )
      .orderBy(outbox.seq);
    return rows.map((row) => parseEvent(row.envelope));
  };

  it('a custom event is published with its name, properties and time, keyed by its contact', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const at = new Date(Date.now() - 3_600_000);
    unwrap(
      await s.trackContactEvent(ctx, {
        email: 'ADA@example.com',
        name: 'purchase',
        properties: { plan: 'pro', amount: 49 },
        occurredAt: at,
      }),
    );
    // Refused (no such contact): nothing is published.
    expect((await s.trackContactEvent(ctx, { email: 'nobody@example.com', name: 'purchase' })).ok).toBe(false);
    const events = await published(ctx.organizationId, 'crm.contact.event-tracked');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      subject: { type: 'contact', id: ada.id },
      correlationId: ctx.correlationId,
      data: { name: 'purchase', properties: { plan: 'pro', amount: 49 }, occurredAt: at.toISOString() },
    });
  });

  it('a segment is published when created, updated and deleted, with its kind and name', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const vip = unwrap(
      await s.createSegment(ctx, { name: 'VIP', filter: { tags: { op: 'includesAny', value: ['vip'] } } }),
    );
    const list = unwrap(await s.createSegment(ctx, { name: 'List', kind: 'static' }));
    unwrap(await s.updateSegment(ctx, vip.id, { name: 'VIPs' }));
    unwrap(await s.updateSegment(ctx, vip.id, { filter: { tags: { op: 'includesAny', value: ['gold'] } } }));
    // Refused updates and deletes publish nothing.
    expect((await s.updateSegment(ctx, list.id, { filter: { tags: { op: 'empty' } } })).ok).toBe(false);
    expect((await s.deleteSegment(newOrg(), list.id)).ok).toBe(false);
    unwrap(await s.deleteSegment(ctx, list.id));

    const events = await published(
      ctx.organizationId,
      'crm.segment.created',
      'crm.segment.updated',
      'crm.segment.deleted',
    );
    expect(events.map((e) => [e.type, e.subject, e.data])).toEqual([
      ['crm.segment.created', { type: 'segment', id: vip.id }, { kind: 'dynamic', name: 'VIP' }],
      ['crm.segment.created', { type: 'segment', id: list.id }, { kind: 'static', name: 'List' }],
      ['crm.segment.updated', { type: 'segment', id: vip.id }, { kind: 'dynamic', name: 'VIPs' }],
      ['crm.segment.updated', { type: 'segment', id: vip.id }, { kind: 'dynamic', name: 'VIPs' }],
      ['crm.segment.deleted', { type: 'segment', id: list.id }, { kind: 'static', name: 'List' }],
    ]);
  });

  it('a custom field is published when created and deleted; deleting it takes its values and waits for the segments reading it', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const plan = unwrap(
      await s.createField(ctx, {
        entity: 'contact',
        key: 'plan',
        label: 'Plan',
        type: 'select',
        choices: ['free', 'pro'],
      }),
    );
    const size = unwrap(await s.createField(ctx, { entity: 'company', key: 'size', label: 'Size', type: 'number' }));
    expect((await s.createField(ctx, { entity: 'contact', key: 'plan', label: 'Again', type: 'text' })).ok).toBe(false);
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com', fields: { plan: 'pro' } }));
    const pro = unwrap(
      await s.createSegment(ctx, { name: 'Pro', filter: { field: 'fields.plan', op: 'eq', value: 'pro' } }),
    );

    const refused = await s.deleteField(ctx, plan.id);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.error.message).toContain('read by segments: Pro');
    expect((await s.deleteField(newOrg(), plan.id)).ok).toBe(false);
    expect((await s.deleteField({ ...ctx, scopes: ['crm:read', 'crm:write'] }, plan.id)).ok).toBe(false);
    unwrap(await s.deleteSegment(ctx, pro.id));
    unwrap(await s.deleteField(ctx, plan.id));
    unwrap(await s.deleteField(ctx, size.id));

    const [row] = await crm.handle.db.select({ fields: contacts.fields }).from(contacts).where(eq(contacts.id, ada.id));
    expect(row?.fields).toEqual({});
    expect(unwrap(await s.listFields(ctx))).toEqual([]);
    const events = await published(ctx.organizationId, 'crm.field.created', 'crm.field.deleted');
    expect(events.map((e) => [e.type, e.subject, e.data])).toEqual([
      [
        'crm.field.created',
        { type: 'field', id: plan.id },
        { entity: 'contact', key: 'plan', type: 'select', options: { choices: ['free', 'pro'] } },
      ],
      [
        'crm.field.created',
        { type: 'field', id: size.id },
        { entity: 'company', key: 'size', type: 'number', options: {} },
      ],
      [
        'crm.field.deleted',
        { type: 'field', id: plan.id },
        { entity: 'contact', key: 'plan', type: 'select', options: { choices: ['free', 'pro'] } },
      ],
      [
        'crm.field.deleted',
        { type: 'field', id: size.id },
        { entity: 'company', key: 'size', type: 'number', options: {} },
      ],
    ]);
  });

  it("a merge publishes the winner's new snapshot with what it took from the loser", async () => {
    const ctx = newOrg();
    const s = crm.services;
    unwrap(await s.createField(ctx, { entity: 'contact', key: 'city', label: 'City', type: 'text' }));
    const winner = unwrap(await s.createContact(ctx, { email: 'ada@work.example', tags: ['vip'] }));
    const loser = unwrap(
      await s.createContact(ctx, {
        email: 'ada@home.example',
        lastName: 'King',
        tags: ['beta'],
        fields: { city: 'London' },
      }),
    );
    unwrap(await s.adjustPoints(ctx, { contactId: loser.id, delta: 7 }));
    unwrap(await s.mergeContacts(ctx, { winnerId: winner.id, loserId: loser.id }));

    const events = await published(ctx.organizationId, 'crm.contact.merged', 'crm.contact.updated');
    expect(events.map((e) => e.type)).toEqual(['crm.contact.merged', 'crm.contact.updated']);
    expect(events[1]).toMatchObject({
      subject: { type: 'contact', id: winner.id },
      data: {
        contact: { email: 'ada@work.example', lastName: 'King', points: 7, fields: { city: 'London' } },
        changed: ['lastName', 'fields.city', 'tags', 'points'],
      },
    });
    expect([...(events[1]!.data as { contact: { tags: string[] } }).contact.tags].sort()).toEqual(['beta', 'vip']);
  });

  it('a company is published when created, updated and deleted, with its name, domain and fields', async () => {
    const ctx = newOrg();
    const s = crm.services;
    unwrap(await s.createField(ctx, { entity: 'company', key: 'size', label: 'Size', type: 'number' }));
    const acme = unwrap(await s.createCompany(ctx, { name: 'Acme', domain: 'acme.com', fields: { size: 50 } }));
    unwrap(await s.updateCompany(ctx, acme.id, { name: 'Acme Inc', fields: { size: null } }));
    unwrap(await s.updateCompany(ctx, acme.id, { domain: null }));
    // Refused changes publish nothing.
    expect((await s.createCompany(ctx, { name: 'Bad', fields: { nope: 1 } })).ok).toBe(false);
    expect((await s.updateCompany(newOrg(), acme.id, { name: 'Theirs' })).ok).toBe(false);
    expect((await s.deleteCompany(newOrg(), acme.id)).ok).toBe(false);
    unwrap(await s.deleteCompany(ctx, acme.id));

    const events = await published(
      ctx.organizationId,
      'crm.company.created',
      'crm.company.updated',
      'crm.company.deleted',
    );
    const subject = { type: 'company', id: acme.id };
    expect(events.map((e) => [e.type, e.subject, e.data])).toEqual([
      ['crm.company.created', subject, { company: { name: 'Acme', domain: 'acme.com', fields: { size: 50 } } }],
      ['crm.company.updated', subject, { company: { name: 'Acme Inc', domain: 'acme.com', fields: {} } }],
      ['crm.company.updated', subject, { company: { name: 'Acme Inc', domain: null, fields: {} } }],
      ['crm.company.deleted', subject, {}],
    ]);
    expect(events.every((e) => e.correlationId === ctx.correlationId)).toBe(true);
  });

  it("a contact's companies are published as its full list whenever they change: link, primary, unlink, merge, deletion, erasure", async () => {
    const ctx = newOrg();
    const s = crm.services;
    const company = async (name: string) => unwrap(await s.createCompany(ctx, { name })).id;
    const [acme, globex, initech] = [await company('Acme'), await company('Globex'), await company('Initech')];
    const contact = async (email: string) => unwrap(await s.createContact(ctx, { email })).id;
    const [ada, bob, cy, dee] = [
      await contact('ada@example.com'),
      await contact('bob@example.com'),
      await contact('cy@example.com'),
      await contact('dee@example.com'),
    ];
    const link = async (contactId: string, companyId: string, primary = false) =>
      unwrap(await s.linkCompany(ctx, { contactId, companyId, primary }, true));
    await link(ada, acme);
    await link(ada, globex, true);
    unwrap(await s.linkCompany(ctx, { contactId: ada, companyId: acme }, false));
    // Refused (no such contact, another organization): nothing is published.
    expect((await s.linkCompany(newOrg(), { contactId: ada, companyId: acme }, true)).ok).toBe(false);
    // Bob is merged into Ada: Ada takes Initech (not as primary, she has one) and Bob's list empties.
    await link(bob, initech, true);
    unwrap(await s.mergeContacts(ctx, { winnerId: ada, loserId: bob }));
    await link(cy, acme);
    unwrap(await s.deleteContact(ctx, cy));
    await link(dee, globex, true);
    unwrap(await s.eraseContact(ctx, dee));
    // Deleting a company publishes no list: its contacts' lists still name it until they change.
    unwrap(await s.deleteCompany(ctx, acme));

    const events = await published(ctx.organizationId, 'crm.contact.companies-changed');
    const list = (contactId: string, companyIds: string[], primaryCompanyId: string | null) => [
      { type: 'contact', id: contactId },
      { companyIds, primaryCompanyId },
    ];
    expect(events.map((e) => [e.subject, e.data])).toEqual([
      list(ada, [acme], null),
      list(ada, [globex, acme], globex),
      list(ada, [globex], globex),
      list(bob, [initech], initech),
      list(bob, [], null),
      list(ada, [globex, initech], globex),
      list(cy, [acme], null),
      list(cy, [], null),
      list(dee, [globex], globex),
      list(dee, [], null),
    ]);
    // Merging or deleting a contact without companies publishes no list.
    const other = newOrg();
    const [eve, fay] = [
      unwrap(await s.createContact(other, { email: 'eve@example.com' })).id,
      unwrap(await s.createContact(other, { email: 'fay@example.com' })).id,
    ];
    unwrap(await s.mergeContacts(other, { winnerId: eve, loserId: fay }));
    unwrap(await s.deleteContact(other, eve));
    expect(await published(other.organizationId, 'crm.contact.companies-changed')).toEqual([]);
  });
});
