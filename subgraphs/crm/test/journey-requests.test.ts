// What journey steps ask of CRM, delivered through a real bus: contact updates, static segment
// changes and custom events go through the API's rules, each request applied once however often it
// arrives, and a request about a contact that is gone changes nothing.
import { catalogue, createEvent, type EventEnvelope, newId, parseEvent, unwrap } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { activities, organizationMembers, outbox } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm, withKafkaCrm } from './harness.ts';

const j = catalogue.journeyActions;

/** A journey step's request about a contact, as the journey outbox publishes it. */
function request<K extends 'contactUpdateRequested' | 'segmentChangeRequested' | 'contactEventRequested'>(
  kind: K,
  organizationId: string,
  contactId: string,
  data: Omit<(typeof j)[K]['data']['_input'], 'runId' | 'journeyId' | 'stepId' | 'idempotencyKey'>,
): EventEnvelope {
  const runId = newId();
  return createEvent(j[kind] as never, {
    organizationId,
    subjectId: contactId,
    correlationId: newId(),
    data: { runId, journeyId: newId(), stepId: 'step', idempotencyKey: `journey:${runId}:step:1`, ...data },
  });
}

describe.each(DATABASES)('journey requests into CRM (%s, local bus)', (_name, open) => {
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

  /** The organization's outbox events of one type, parsed. */
  const published = async (organizationId: string, type: string) =>
    (
      await crm.handle.db
        .select()
        .from(outbox)
        .where(and(eq(outbox.organizationId, organizationId), eq(outbox.type, type)))
        .orderBy(outbox.seq)
    ).map((row) => parseEvent(row.envelope));

  it("applies an update step's fields, tags, points, stage, owner and do-not-contact once, with their events", async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    unwrap(
      await s.createField(ctx, {
        entity: 'contact',
        key: 'plan',
        label: 'Plan',
        type: 'select',
        choices: ['free', 'pro'],
      }),
    );
    const stage = unwrap(await s.createStage(ctx, { name: 'Customer', position: 1 }));
    const owner = newId();
    await crm.handle.db.insert(organizationMembers).values({ organizationId: org, userId: owner, addedAt: new Date() });
    const ada = unwrap(
      await s.createContact(ctx, { email: 'ada@example.com', tags: ['lead'], fields: { plan: 'free' } }),
    );
    const update = request('contactUpdateRequested', org, ada.id, {
      set: { firstName: 'Ada', 'fields.plan': 'pro' },
      addTags: ['Customer'],
      removeTags: ['lead'],
      points: 5,
      stageId: stage.id,
      ownerId: owner,
      dnc: { channel: 'sms', value: true },
    });
    await bus.publish([update]);
    await bus.publish([update]);

    expect(unwrap(await s.getContact(ctx, ada.id))).toMatchObject({
      firstName: 'Ada',
      fields: { plan: 'pro' },
      tags: ['customer'],
      points: 5,
      stageId: stage.id,
      ownerId: owner,
    });
    expect((await s.dncOf(org, ada.id)).map((d) => [d.channel, d.reason, d.source])).toEqual([
      ['sms', 'manual', `journey:${(update.data as { journeyId: string }).journeyId}`],
    ]);
    for (const type of ['crm.contact.updated', 'crm.contact.tagged', 'crm.points.changed', 'crm.dnc.changed']) {
      const events = await published(org, type);
      expect(events, type).toHaveLength(1);
      expect(events[0]!.correlationId).toBe(update.correlationId);
    }
  });

  it('applies what CRM accepts of an update and logs what it refuses, once', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const warn = vi.spyOn(s.deps.logger, 'warn');
    const update = request('contactUpdateRequested', ctx.organizationId, ada.id, {
      set: { 'fields.nope': 1, createdAt: '2020-01-01', lastName: 'King' },
      addTags: ['kept'],
      stageId: newId(),
    });
    await bus.publish([update]);
    await bus.publish([update]);
    const after = unwrap(await s.getContact(ctx, ada.id));
    // The refused set (an unknown field, a stage of no one) changes no field; the tags go on.
    expect(after).toMatchObject({ lastName: null, stageId: null, tags: ['kept'] });
    const refusals = warn.mock.calls.filter(([fields]) => (fields as { eventId?: string }).eventId === update.id);
    expect(refusals).toHaveLength(1);
    expect((refusals[0]![0] as { refused: { part: string }[] }).refused.map((r) => r.part)).toEqual(['set', 'set']);
    warn.mockRestore();
  });

  it('adds to and removes from a static segment once each; a dynamic segment refuses', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const list = unwrap(await s.createSegment(ctx, { name: 'Onboarded', kind: 'static' }));
    const dynamic = unwrap(await s.createSegment(ctx, { name: 'All', filter: { tags: { op: 'empty' } } }));
    const add = request('segmentChangeRequested', org, ada.id, { segmentId: list.id, action: 'add' });
    await bus.publish([add]);
    await bus.publish([add]);
    expect(unwrap(await s.getSegment(ctx, list.id))?.memberCount).toBe(1);
    await bus.publish([request('segmentChangeRequested', org, ada.id, { segmentId: dynamic.id, action: 'add' })]);
    await bus.publish([request('segmentChangeRequested', org, ada.id, { segmentId: list.id, action: 'remove' })]);
    expect(unwrap(await s.getSegment(ctx, list.id))?.memberCount).toBe(0);
    const moves = [
      ...(await published(org, 'crm.segment.entered')),
      ...(await published(org, 'crm.segment.exited')),
    ].filter((e) => (e.data as { segmentId: string }).segmentId === list.id);
    expect(moves.map((e) => e.type)).toEqual(['crm.segment.entered', 'crm.segment.exited']);
  });

  it("records an emit event step's custom event on the timeline and publishes it, for other journeys", async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const emitted = request('contactEventRequested', org, ada.id, {
      name: 'onboarded',
      properties: { via: 'journey' },
    });
    await bus.publish([emitted]);
    await bus.publish([emitted]);
    const recorded = await crm.handle.db
      .select({ subject: activities.subject, properties: activities.properties })
      .from(activities)
      .where(and(eq(activities.contactId, ada.id), eq(activities.type, 'event')));
    expect(recorded).toEqual([{ subject: 'onboarded', properties: { via: 'journey' } }]);
    const events = await published(org, 'crm.contact.event-tracked');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      subject: { type: 'contact', id: ada.id },
      correlationId: emitted.correlationId,
      data: { name: 'onboarded', properties: { via: 'journey' }, occurredAt: emitted.occurredAt },
    });
  });

  it('changes nothing for a contact that does not exist (any more), and says so once', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const gone = unwrap(await s.createContact(ctx, { email: 'gone@example.com' }));
    unwrap(await s.deleteContact(ctx, gone.id));
    const list = unwrap(await s.createSegment(ctx, { name: 'List', kind: 'static' }));
    const info = vi.spyOn(s.deps.logger, 'info');
    const requests = [
      request('contactUpdateRequested', org, gone.id, { addTags: ['x'], points: 3 }),
      request('segmentChangeRequested', org, gone.id, { segmentId: list.id, action: 'add' }),
      request('contactEventRequested', org, newId(), { name: 'never', properties: {} }),
      // Another organization's contact is as unknown as one that never existed.
      request('contactUpdateRequested', newOrg().organizationId, gone.id, { points: 1 }),
    ];
    for (const event of [...requests, ...requests]) await bus.publish([event]);
    const said = info.mock.calls.filter(([fields]) =>
      requests.some((r) => r.id === (fields as { eventId?: string }).eventId),
    );
    expect(said).toHaveLength(requests.length);
    info.mockRestore();
    expect(unwrap(await s.getSegment(ctx, list.id))?.memberCount).toBe(0);
    const [written] = await crm.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from crm.outbox where organization_id = ${org}
          and type in ('crm.contact.tagged', 'crm.points.changed', 'crm.segment.entered', 'crm.contact.event-tracked')`,
    );
    expect(written!.n).toBe(0);
  });
});

describe('journey requests into CRM on Kafka', () => {
  it('applies a redelivered request once', async () => {
    await withKafkaCrm(async (crm, bus) => {
      const ctx = newOrg();
      const ada = unwrap(await crm.services.createContact(ctx, { email: 'ada@example.com' }));
      const first = request('contactUpdateRequested', ctx.organizationId, ada.id, { points: 2 });
      const last = request('contactUpdateRequested', ctx.organizationId, ada.id, { addTags: ['done'] });
      await bus.publish([first, first, last]);
      await vi.waitFor(async () => expect(unwrap(await crm.services.getContact(ctx, ada.id))?.tags).toEqual(['done']), {
        timeout: 30_000,
        interval: 100,
      });
      expect(unwrap(await crm.services.getContact(ctx, ada.id))?.points).toBe(2);
    });
  });
});
