// The journeys' copy of CRM contacts and segment memberships, kept from CRM's events through the
// context's subscription: each event applied once however often it is delivered, a late older
// snapshot never rolling a newer one back, deleted contacts kept as tombstones.
import { catalogue, createEvent, type EventEnvelope, newId } from '@mauntic/kernel';
import { createLogger, KafkaEventBus, LocalEventBus } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { contacts, processedEvents, segmentMemberships } from '../src/db/schema.ts';
import { crmContactCreated, DATABASES, type Journey, newOrg, openJourney } from './harness.ts';

const logger = createLogger('journey-test', 'silent');
const c = catalogue.crm;

function crmEvent<K extends 'contactTagged' | 'pointsChanged' | 'dncChanged' | 'segmentEntered' | 'segmentExited'>(
  kind: K,
  organizationId: string,
  contactId: string,
  data: (typeof c)[K]['data']['_output'],
): EventEnvelope {
  return createEvent(c[kind] as never, { organizationId, subjectId: contactId, correlationId: newId(), data });
}

const updated = (organizationId: string, contactId: string, at: Date, contact: Record<string, unknown>) =>
  createEvent(c.contactUpdated, {
    organizationId,
    subjectId: contactId,
    correlationId: newId(),
    occurredAt: at,
    data: { ...crmContactCreated(organizationId, contactId, contact).data, changed: Object.keys(contact) },
  });

async function contactRow(env: Journey, id: string) {
  const [row] = await env.handle.db.select().from(contacts).where(eq(contacts.id, id));
  return row;
}

async function memberships(env: Journey, contactId: string) {
  return (
    await env.handle.db
      .select({ segmentId: segmentMemberships.segmentId })
      .from(segmentMemberships)
      .where(eq(segmentMemberships.contactId, contactId))
  ).map((m) => m.segmentId);
}

describe.each(DATABASES)('the contacts projection (%s, local bus)', (_name, open) => {
  let env: Journey;
  let bus: LocalEventBus;
  beforeAll(async () => {
    env = await openJourney(open);
    bus = new LocalEventBus({ logger });
    for (const subscription of env.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
  });
  afterAll(async () => {
    await bus?.stop();
    await env?.close();
  });

  it("keeps a contact's snapshot, tags, points and do-not-contact channels", async () => {
    const { organizationId: org } = newOrg();
    const id = newId();
    const created = new Date('2026-01-01T10:00:00Z');
    await bus.publish([
      crmContactCreated(
        org,
        id,
        { email: 'ada@example.com', timezone: 'Europe/Paris', tags: ['vip'], fields: { plan: 'pro' } },
        created,
      ),
    ]);
    await bus.publish([updated(org, id, new Date('2026-01-02T10:00:00Z'), { email: 'ada@example.org', points: 3 })]);
    await bus.publish([crmEvent('contactTagged', org, id, { added: ['new', 'vip2'], removed: ['vip'] })]);
    await bus.publish([crmEvent('contactTagged', org, id, { added: ['last'], removed: [] })]);
    await bus.publish([crmEvent('pointsChanged', org, id, { delta: 7, points: 10 })]);
    await bus.publish([
      crmEvent('dncChanged', org, id, { channel: 'email', doNotContact: true, reason: 'unsubscribed' }),
    ]);
    await bus.publish([crmEvent('dncChanged', org, id, { channel: 'sms', doNotContact: true })]);
    await bus.publish([crmEvent('dncChanged', org, id, { channel: 'sms', doNotContact: false })]);
    expect(await contactRow(env, id)).toMatchObject({
      organizationId: org,
      email: 'ada@example.org',
      timezone: null,
      tags: ['new', 'vip2', 'last'],
      points: 10,
      dnc: { email: 'unsubscribed' },
      deleted: false,
      createdAt: created,
    });
  });

  it('does not let an older snapshot arriving late roll a newer one back', async () => {
    const { organizationId: org } = newOrg();
    const id = newId();
    await bus.publish([updated(org, id, new Date('2026-03-02T00:00:00Z'), { firstName: 'New' })]);
    await bus.publish([updated(org, id, new Date('2026-03-01T00:00:00Z'), { firstName: 'Old' })]);
    expect((await contactRow(env, id))?.firstName).toBe('New');
  });

  it('applies each event once, however often it is delivered', async () => {
    const { organizationId: org } = newOrg();
    const id = newId();
    const segment = newId();
    await bus.publish([crmContactCreated(org, id)]);
    const entered = crmEvent('segmentEntered', org, id, { segmentId: segment });
    const exited = crmEvent('segmentExited', org, id, { segmentId: segment });
    const tagged = crmEvent('contactTagged', org, id, { added: ['a'], removed: [] });
    const untagged = crmEvent('contactTagged', org, id, { added: [], removed: ['a'] });
    for (const event of [entered, tagged, exited, untagged, entered, tagged]) await bus.publish([event]);
    expect(await memberships(env, id)).toEqual([]);
    expect((await contactRow(env, id))?.tags).toEqual([]);
    const [applied] = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from journey.processed_events where organization_id = ${org}`,
    );
    expect(applied!.n).toBe(5);
  });

  it("keeps a deleted or merged-away contact as a tombstone, without its data or memberships, that late events don't revive", async () => {
    const { organizationId: org } = newOrg();
    const [gone, loser, winner, segment] = [newId(), newId(), newId(), newId()];
    for (const id of [gone, loser, winner]) {
      await bus.publish([crmContactCreated(org, id, { email: `${id}@example.com`, fields: { plan: 'pro' } })]);
      await bus.publish([crmEvent('segmentEntered', org, id, { segmentId: segment })]);
    }
    await bus.publish([
      createEvent(c.contactDeleted, {
        organizationId: org,
        subjectId: gone,
        correlationId: newId(),
        data: { erased: true },
      }),
      createEvent(c.contactMerged, {
        organizationId: org,
        subjectId: winner,
        correlationId: newId(),
        data: { winnerId: winner, loserId: loser },
      }),
    ]);
    await bus.publish([updated(org, gone, new Date(Date.now() + 60_000), { email: 'back@example.com' })]);
    for (const id of [gone, loser]) {
      expect(await contactRow(env, id)).toMatchObject({ deleted: true, email: null, fields: {}, tags: [] });
      expect(await memberships(env, id)).toEqual([]);
    }
    expect(await contactRow(env, winner)).toMatchObject({ deleted: false, email: `${winner}@example.com` });
    expect(await memberships(env, winner)).toEqual([segment]);
  });
});

describe('the contacts projection on Kafka', () => {
  it('applies a redelivered event once, in order with the rest of the contact’s events', async () => {
    const env = await openJourney(DATABASES[0][1]);
    const bus = new KafkaEventBus({
      brokers: testServices.kafkaBrokers,
      clientId: 'journey-test',
      logger,
      topicPrefix: `${testServices.kafkaTopicPrefix}-${newId().slice(-8)}`,
    });
    try {
      for (const subscription of env.services.subscriptions()) bus.subscribe(subscription);
      await bus.start();
      await bus.ready();
      const { organizationId: org } = newOrg();
      const id = newId();
      const segment = newId();
      const entered = crmEvent('segmentEntered', org, id, { segmentId: segment });
      const last = crmEvent('pointsChanged', org, id, { delta: 5, points: 5 });
      await bus.publish([
        crmContactCreated(org, id),
        entered,
        crmEvent('segmentExited', org, id, { segmentId: segment }),
        entered,
        last,
      ]);
      await vi.waitFor(async () => expect((await contactRow(env, id))?.points).toBe(5), {
        timeout: 30_000,
        interval: 100,
      });
      expect(await memberships(env, id)).toEqual([]);
      const applied = await env.handle.db
        .select({ eventId: processedEvents.eventId })
        .from(processedEvents)
        .where(and(eq(processedEvents.organizationId, org), eq(processedEvents.eventId, entered.id)));
      expect(applied).toHaveLength(1);
    } finally {
      await bus.stop();
      await env.close();
    }
  });
});
