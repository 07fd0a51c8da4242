// What definitions may name, copied from CRM's segment and custom field events and delivery's
// template events through the context's subscription: each event applied once however often it is
// delivered, a late older event never rolling a newer copy back nor reviving a deleted one, and
// drafts checked against what the copies hold.
import { catalogue, createEvent, type EventEnvelope, newId, unwrap } from '@mauntic/kernel';
import { createLogger, KafkaEventBus, LocalEventBus } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFINITIONS_CONSUMER } from '../src/app/definitions-projection.ts';
import { contacts, customFields, segmentMemberships, segments, templates } from '../src/db/schema.ts';
import type { JourneyDefinition } from '../src/domain/definition.ts';
import { crmContactCreated, DATABASES, type Journey, newOrg, openJourney } from './harness.ts';

const logger = createLogger('journey-test', 'silent');
const c = catalogue.crm;
const d = catalogue.delivery;

const segmentEvent = (
  kind: 'segmentCreated' | 'segmentUpdated' | 'segmentDeleted',
  organizationId: string,
  id: string,
  data: { kind: 'dynamic' | 'static'; name: string },
  occurredAt = new Date(),
) => createEvent(c[kind], { organizationId, subjectId: id, correlationId: newId(), occurredAt, data });

const fieldEvent = (
  kind: 'fieldCreated' | 'fieldDeleted',
  organizationId: string,
  key: string,
  type: string,
  occurredAt = new Date(),
  entity: 'contact' | 'company' = 'contact',
) =>
  createEvent(c[kind], {
    organizationId,
    subjectId: newId(),
    correlationId: newId(),
    occurredAt,
    data: { entity, key, type, options: {} },
  });

const templateEvent = (
  kind: 'templateCreated' | 'templateUpdated' | 'templateDeleted',
  organizationId: string,
  id: string,
  channel: 'email' | 'sms' | 'push' | 'webhook',
  occurredAt = new Date(),
) =>
  createEvent(d[kind], {
    organizationId,
    subjectId: id,
    correlationId: newId(),
    occurredAt,
    data: { channel, name: `${channel} template` },
  });

/** Sends a template, adds to a static segment, and branches on a date field. */
const definition = (template: string, segment: string): JourneyDefinition => ({
  entry: [{ type: 'api' }],
  start: 'send',
  steps: {
    send: { type: 'send', channel: 'email', templateId: template, next: 'list' },
    list: { type: 'segment', action: 'add', segmentId: segment, next: 'check' },
    check: { type: 'condition', filter: { field: 'fields.renewal', op: 'notEmpty' }, yes: 'done', no: 'done' },
    done: { type: 'exit' },
  },
  settings: { entryRule: { kind: 'once' } },
});

describe.each(DATABASES)('the definitions projection (%s, local bus)', (_name, open) => {
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

  const issuesOf = async (ctx: ReturnType<typeof newOrg>, template: string, segment: string) => {
    const journey = unwrap(await env.services.createJourney(ctx, { name: 'Welcome' }));
    const checked = unwrap(
      await env.services.validateJourney(ctx, { id: journey.id, definition: definition(template, segment) }),
    );
    return checked.issues.map((i) => [i.stepId, i.code]);
  };

  it('checks drafts against the templates, segments and fields the owners published', async () => {
    const ctx = newOrg();
    const org = ctx.organizationId;
    const [template, segment] = [newId(), newId()];
    expect(await issuesOf(ctx, template, segment)).toEqual([
      ['send', 'unknown_template'],
      ['list', 'unknown_segment'],
      ['check', 'unknown_field'],
    ]);
    await bus.publish([
      templateEvent('templateCreated', org, template, 'email'),
      segmentEvent('segmentCreated', org, segment, { kind: 'static', name: 'Onboarded' }),
      fieldEvent('fieldCreated', org, 'renewal', 'date'),
    ]);
    expect(await issuesOf(ctx, template, segment)).toEqual([]);
    // What another organization published is not this one's.
    expect(await issuesOf(newOrg(), template, segment)).toHaveLength(3);

    await bus.publish([
      templateEvent('templateDeleted', org, template, 'email'),
      segmentEvent('segmentDeleted', org, segment, { kind: 'static', name: 'Onboarded' }),
      fieldEvent('fieldDeleted', org, 'renewal', 'date'),
    ]);
    expect(await issuesOf(ctx, template, segment)).toEqual([
      ['send', 'unknown_template'],
      ['list', 'unknown_segment'],
      ['check', 'unknown_field'],
    ]);
  });

  it('keeps the newest of each, applies each event once, and lets nothing older revive a deleted one', async () => {
    const { organizationId: org } = newOrg();
    const [template, segment] = [newId(), newId()];
    const t0 = new Date('2026-02-01T10:00:00Z');
    const later = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);
    const created = templateEvent('templateCreated', org, template, 'sms', t0);
    for (const event of [
      created,
      templateEvent('templateUpdated', org, template, 'email', later(2)),
      // Older, arriving late: not applied.
      templateEvent('templateUpdated', org, template, 'push', later(1)),
      created,
      segmentEvent('segmentCreated', org, segment, { kind: 'dynamic', name: 'A' }, t0),
      segmentEvent('segmentDeleted', org, segment, { kind: 'dynamic', name: 'A' }, later(5)),
      segmentEvent('segmentUpdated', org, segment, { kind: 'dynamic', name: 'B' }, later(9)),
      // A field deleted and defined again with another type: the newer event wins in any order.
      fieldEvent('fieldCreated', org, 'plan', 'select', later(9)),
      fieldEvent('fieldDeleted', org, 'plan', 'text', later(3)),
      fieldEvent('fieldCreated', org, 'size', 'number', t0, 'company'),
    ])
      await bus.publish([event]);
    const [t] = await env.handle.db.select().from(templates).where(eq(templates.id, template));
    expect(t).toMatchObject({ channel: 'email', deleted: false });
    const [s] = await env.handle.db.select().from(segments).where(eq(segments.id, segment));
    expect(s).toMatchObject({ deleted: true });
    const fields = await env.handle.db.select().from(customFields).where(eq(customFields.organizationId, org));
    expect(fields.map((f) => [f.key, f.type, f.deleted])).toEqual([['plan', 'select', false]]);
    const [applied] = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from journey.processed_events
          where organization_id = ${org} and consumer = ${DEFINITIONS_CONSUMER}`,
    );
    expect(applied!.n).toBe(9);
  });

  it("drops a deleted segment's memberships and a deleted field's values from the contacts' copy", async () => {
    const { organizationId: org } = newOrg();
    const [ada, segment, other] = [newId(), newId(), newId()];
    await bus.publish([crmContactCreated(org, ada, { fields: { plan: 'pro', city: 'Paris' } })]);
    for (const id of [segment, other])
      await bus.publish([
        createEvent(c.segmentEntered, {
          organizationId: org,
          subjectId: ada,
          correlationId: newId(),
          data: { segmentId: id },
        }),
      ]);
    await bus.publish([
      segmentEvent('segmentDeleted', org, segment, { kind: 'static', name: 'Gone' }),
      fieldEvent('fieldDeleted', org, 'plan', 'select'),
    ]);
    const members = await env.handle.db
      .select({ segmentId: segmentMemberships.segmentId })
      .from(segmentMemberships)
      .where(and(eq(segmentMemberships.organizationId, org), eq(segmentMemberships.contactId, ada)));
    expect(members).toEqual([{ segmentId: other }]);
    const [row] = await env.handle.db.select({ fields: contacts.fields }).from(contacts).where(eq(contacts.id, ada));
    expect(row?.fields).toEqual({ city: 'Paris' });
  });
});

describe('the definitions projection on Kafka', () => {
  it('follows CRM and delivery topics and applies a redelivered event once', async () => {
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
      const [template, segment] = [newId(), newId()];
      const created: EventEnvelope = segmentEvent('segmentCreated', org, segment, { kind: 'static', name: 'L' });
      await bus.publish([templateEvent('templateCreated', org, template, 'webhook'), created, created]);
      await vi.waitFor(
        async () => {
          const [t] = await env.handle.db.select().from(templates).where(eq(templates.id, template));
          const [s] = await env.handle.db.select().from(segments).where(eq(segments.id, segment));
          expect([t?.channel, s?.kind]).toEqual(['webhook', 'static']);
        },
        { timeout: 30_000, interval: 100 },
      );
      const [applied] = await env.handle.rows<{ n: number }>(
        sql`select count(*)::int as n from journey.processed_events where organization_id = ${org}`,
      );
      expect(applied!.n).toBe(2);
    } finally {
      await bus.stop();
      await env.close();
    }
  });
});
