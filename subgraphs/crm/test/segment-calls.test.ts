// Segment-style calls the integrations context received, applied by CRM through a real bus:
// identify finds or makes the contact and merges the anonymous visitor into it; track, page and
// screen reach the timeline as contact events (and are published for journeys); alias merges two
// people; each call applied once however often it arrives.
import { catalogue, createEvent, type EventEnvelope, newId, parseEvent, unwrap } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contactIdentities, contacts, outbox } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm } from './harness.ts';

const received = catalogue.integrations.segmentCallReceived;
interface Call {
  call: 'identify' | 'track' | 'page' | 'screen' | 'group' | 'alias';
  userId?: string;
  anonymousId?: string;
  previousId?: string;
  event?: string;
  name?: string;
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  timestamp?: string;
}

/** A call as the integrations outbox publishes it. */
function call(organizationId: string, data: Call): EventEnvelope {
  const now = new Date().toISOString();
  return createEvent(received, {
    organizationId,
    subjectId: data.anonymousId ?? data.userId!,
    correlationId: newId(),
    data: { sourceId: newId(), messageId: newId(), timestamp: now, receivedAt: now, ...data },
  });
}

describe.each(DATABASES)('Segment calls into CRM (%s, local bus)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  let bus: LocalEventBus;
  beforeAll(async () => {
    crm = await openCrm(open);
    bus = new LocalEventBus({ logger: createLogger('test', 'silent') });
    for (const subscription of crm.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
  });
  afterAll(async () => {
    await bus?.stop();
    await crm?.close();
  });

  const contactsOf = (organizationId: string) =>
    crm.handle.db.select().from(contacts).where(eq(contacts.organizationId, organizationId));
  const eventsOn = async (organizationId: string, contactId: string) =>
    unwrap(await crm.services.timeline(organizationId, contactId, 50)).items.filter((a) => a.type === 'event');
  const published = async (organizationId: string, type: string) =>
    (
      await crm.handle.db
        .select()
        .from(outbox)
        .where(and(eq(outbox.organizationId, organizationId), eq(outbox.type, type)))
        .orderBy(outbox.seq)
    ).map((row) => parseEvent(row.envelope));

  it('identify makes the contact by userId once, then updates its traits', async () => {
    const org = newOrg().organizationId;
    const first = call(org, {
      call: 'identify',
      userId: 'u-1',
      traits: { email: 'Ada@Example.com', first_name: 'Ada' },
    });
    await bus.publish([first]);
    await bus.publish([first]);
    await bus.publish([call(org, { call: 'identify', userId: 'u-1', traits: { lastName: 'Lovelace', plan: 'pro' } })]);
    const rows = await contactsOf(org);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ email: 'Ada@Example.com', firstName: 'Ada', lastName: 'Lovelace' });
    expect(await published(org, 'crm.contact.created')).toHaveLength(1);
  });

  it('identify by email finds the contact the API made, and links the userId to it', async () => {
    const ctx = newOrg();
    const ada = unwrap(await crm.services.createContact(ctx, { email: 'ada@example.com' }));
    await bus.publish([
      call(ctx.organizationId, { call: 'identify', userId: 'u-9', traits: { email: 'ADA@example.com' } }),
    ]);
    await bus.publish([call(ctx.organizationId, { call: 'track', userId: 'u-9', event: 'Signed Up' })]);
    expect(await contactsOf(ctx.organizationId)).toHaveLength(1);
    expect((await eventsOn(ctx.organizationId, ada.id)).map((e) => e.subject)).toEqual(['Signed Up']);
  });

  it("track, page and screen reach the contact's timeline as contact events, published for journeys", async () => {
    const org = newOrg().organizationId;
    const at = new Date(Date.now() - 60_000).toISOString();
    const track = call(org, { call: 'track', userId: 'u-2', event: 'Order Completed', properties: { total: 42 } });
    await bus.publish([track]);
    await bus.publish([track]);
    await bus.publish([call(org, { call: 'page', userId: 'u-2', name: 'Pricing', properties: { url: '/pricing' } })]);
    await bus.publish([call(org, { call: 'screen', userId: 'u-2', name: 'Home', timestamp: at })]);
    const [person] = await contactsOf(org);
    const events = await eventsOn(org, person!.id);
    expect(events.map((e) => [e.subject, e.properties]).sort()).toEqual(
      [
        ['Order Completed', { total: 42 }],
        ['Page Viewed', { name: 'Pricing', url: '/pricing' }],
        ['Screen Viewed', { name: 'Home' }],
      ].sort(),
    );
    expect(events.find((e) => e.subject === 'Screen Viewed')!.occurredAt.toISOString()).toBe(at);
    const tracked = await published(org, 'crm.contact.event-tracked');
    expect(tracked.map((e) => (e.data as { name: string }).name).sort()).toEqual([
      'Order Completed',
      'Page Viewed',
      'Screen Viewed',
    ]);
    expect(tracked.every((e) => e.subject.id === person!.id)).toBe(true);
  });

  it('identify merges the anonymous visitor into the known contact, with what it did', async () => {
    const ctx = newOrg();
    const org = ctx.organizationId;
    const ada = unwrap(await crm.services.createContact(ctx, { email: 'ada@example.com' }));
    await bus.publish([call(org, { call: 'page', anonymousId: 'anon-1', name: 'Landing' })]);
    expect(await contactsOf(org)).toHaveLength(2);
    await bus.publish([
      call(org, { call: 'identify', userId: 'u-3', anonymousId: 'anon-1', traits: { email: 'ada@example.com' } }),
    ]);
    expect((await contactsOf(org)).map((c) => c.id)).toEqual([ada.id]);
    expect((await eventsOn(org, ada.id)).map((e) => e.subject)).toEqual(['Page Viewed']);
    // Later calls under either id land on the same contact.
    await bus.publish([call(org, { call: 'track', anonymousId: 'anon-1', event: 'Clicked' })]);
    expect((await eventsOn(org, ada.id)).map((e) => e.subject).sort()).toEqual(['Clicked', 'Page Viewed']);
    const ids = await crm.handle.db.select().from(contactIdentities).where(eq(contactIdentities.organizationId, org));
    expect(ids.map((i) => [i.kind, i.value, i.contactId]).sort()).toEqual([
      ['anonymous', 'anon-1', ada.id],
      ['user', 'u-3', ada.id],
    ]);
    expect((await published(org, 'crm.contact.merged')).map((e) => e.data)).toEqual([
      { winnerId: ada.id, loserId: expect.any(String) },
    ]);
  });

  it('ties together the contacts calls made when they arrived before the identify that names both ids', async () => {
    const org = newOrg().organizationId;
    // Keyed by different ids, these may be applied in any order: each made its own contact.
    await bus.publish([call(org, { call: 'page', anonymousId: 'anon-5', name: 'Home' })]);
    await bus.publish([call(org, { call: 'track', userId: 'u-5', event: 'Bought' })]);
    expect(await contactsOf(org)).toHaveLength(2);
    await bus.publish([
      call(org, { call: 'identify', userId: 'u-5', anonymousId: 'anon-5', traits: { email: 'lin@example.com' } }),
    ]);
    const rows = await contactsOf(org);
    expect(rows.map((r) => r.email)).toEqual(['lin@example.com']);
    expect((await eventsOn(org, rows[0]!.id)).map((e) => e.subject).sort()).toEqual(['Bought', 'Page Viewed']);
  });

  it("alias merges the previous id's contact into the user's", async () => {
    const org = newOrg().organizationId;
    await bus.publish([call(org, { call: 'track', anonymousId: 'anon-2', event: 'Viewed' })]);
    await bus.publish([call(org, { call: 'identify', userId: 'u-4', traits: { email: 'grace@example.com' } })]);
    await bus.publish([call(org, { call: 'alias', previousId: 'anon-2', userId: 'u-4' })]);
    const rows = await contactsOf(org);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.email).toBe('grace@example.com');
    expect((await eventsOn(org, rows[0]!.id)).map((e) => e.subject)).toEqual(['Viewed']);
  });

  it("another organization's calls never touch this one's contacts", async () => {
    const a = newOrg().organizationId;
    const b = newOrg().organizationId;
    await bus.publish([call(a, { call: 'identify', userId: 'same', traits: { email: 'x@example.com' } })]);
    await bus.publish([call(b, { call: 'track', userId: 'same', event: 'B only' })]);
    const [inA] = await contactsOf(a);
    expect(await eventsOn(a, inA!.id)).toEqual([]);
    expect(await contactsOf(b)).toHaveLength(1);
  });
});
