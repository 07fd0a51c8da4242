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
});
