// Point rules and content's events on real databases: rules change points as activity is
// recorded (custom events, delivery's and content's events through the bus), with their limits,
// events and segment re-evaluation; form submissions and page visits feed behavioural segments.
import { catalogue, createEvent, type EventEnvelope, newId, unwrap } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { activities, outbox } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm, withKafkaCrm } from './harness.ts';

const logger = createLogger('test', 'silent');

const opened = (org: string, contactId: string, machine: boolean): EventEnvelope =>
  createEvent(catalogue.delivery.messageOpened, {
    organizationId: org,
    subjectId: contactId,
    correlationId: newId(),
    data: {
      messageId: newId(),
      contactId,
      channel: 'email',
      address: 'x@example.com',
      templateId: null,
      source: { kind: 'campaign', id: null, stepId: null },
      machine,
    },
  });

const formSubmitted = (org: string, contactId: string, formId: string): EventEnvelope =>
  createEvent(catalogue.content.formSubmitted, {
    organizationId: org,
    subjectId: contactId,
    correlationId: newId(),
    data: { formId, contactId, fields: { email: 'x@example.com', topics: ['a'] }, pageUrl: 'https://example.com/demo' },
  });

const pageVisited = (org: string, contactId: string, url: string): EventEnvelope =>
  createEvent(catalogue.content.pageVisited, {
    organizationId: org,
    subjectId: contactId,
    correlationId: newId(),
    data: { contactId, url, referrer: 'https://search.example/', pageId: null },
  });

describe.each(DATABASES)('point rules and content events (%s)', (_name, open) => {
  let crm: Awaited<ReturnType<typeof openCrm>>;
  let bus: LocalEventBus;
  beforeAll(async () => {
    crm = await openCrm(open);
    bus = new LocalEventBus({ logger });
    for (const subscription of crm.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
  });
  afterAll(async () => {
    await bus?.stop();
    await crm?.close();
  });

  const pointsEvents = async (org: string) =>
    (
      await crm.handle.db
        .select({ envelope: outbox.envelope })
        .from(outbox)
        .where(and(eq(outbox.organizationId, org), eq(outbox.type, 'crm.points.changed')))
        .orderBy(asc(outbox.seq))
    ).map((r) => (r.envelope as { data: { delta: number; points: number; reason?: string } }).data);

  it('refuses malformed rules with typed errors, and leaves them to admins', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const bad = async (input: Parameters<typeof s.createPointRule>[1]) => {
      const result = await s.createPointRule(ctx, input);
      expect(result.ok).toBe(false);
      return result.ok ? null : result.error;
    };
    expect(await bad({ name: 'x', eventType: 'custom', delta: 5 })).toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ path: ['input', 'customName'] }],
    });
    expect(
      await bad({ name: 'x', eventType: 'delivery.message.opened', customName: 'purchase', delta: 5 }),
    ).toMatchObject({ issues: [{ path: ['input', 'customName'] }] });
    expect(await bad({ name: 'x', eventType: 'delivery.message.opened', delta: 0 })).toMatchObject({
      issues: [{ path: ['input', 'delta'] }],
    });
    expect(await bad({ name: 'x', eventType: 'nope' as never, delta: 1 })).toMatchObject({
      issues: [{ path: ['input', 'eventType'] }],
    });
    expect(await bad({ name: 'x', eventType: 'content.page.visited', delta: 1, maxPerContact: 0 })).toMatchObject({
      issues: [{ path: ['input', 'maxPerContact'] }],
    });
    const editor = { ...ctx, role: 'editor' as const, scopes: ['crm:read' as const, 'crm:write' as const] };
    expect(
      await s.createPointRule(editor, { name: 'x', eventType: 'custom', customName: 'a', delta: 1 }),
    ).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    unwrap(await s.createPointRule(ctx, { name: 'ok', eventType: 'custom', customName: 'a', delta: 1 }));
    expect(unwrap(await s.listPointRules(ctx)).map((r) => r.name)).toEqual(['ok']);
  });

  it('gives points for custom events up to the limit, with an event each, and moves points segments', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const rule = unwrap(
      await s.createPointRule(ctx, {
        name: 'Purchase',
        eventType: 'custom',
        customName: 'purchase',
        delta: 20,
        maxPerContact: 2,
      }),
    );
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const hot = unwrap(await s.createSegment(ctx, { name: 'hot', filter: { field: 'points', op: 'gte', value: 40 } }));
    unwrap(await s.rebuildSegment(ctx, hot.id));

    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase' }));
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(20);
    expect(unwrap(await s.getSegment(ctx, hot.id))?.memberCount).toBe(0);
    unwrap(await s.trackContactEvent(ctx, { email: 'ADA@example.com', name: 'purchase' }));
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(40);
    // Re-evaluated with the activity, at once: no rebuild needed.
    expect(unwrap(await s.getSegment(ctx, hot.id))?.memberCount).toBe(1);
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase' }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'Purchase' }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'refund' }));
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(40);
    expect(await pointsEvents(org)).toEqual([
      { delta: 20, points: 20, reason: 'point rule: Purchase' },
      { delta: 20, points: 40, reason: 'point rule: Purchase' },
    ]);
    const timeline = unwrap(await s.timeline(org, ada.id, 50));
    expect(timeline.items.filter((i) => i.type === 'points.changed').map((i) => i.subject)).toEqual([rule.id, rule.id]);

    // Raising the limit lets it apply once more; switching it off stops it.
    unwrap(await s.updatePointRule(ctx, rule.id, { maxPerContact: 3 }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase' }));
    unwrap(await s.updatePointRule(ctx, rule.id, { maxPerContact: null, active: false }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase' }));
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(60);
    unwrap(await s.deletePointRule(ctx, rule.id));
    expect(await s.deletePointRule(ctx, rule.id)).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
  });

  it("gives points for people's opens (not machines'), once per event however often it is delivered", async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    unwrap(await s.createPointRule(ctx, { name: 'Open', eventType: 'delivery.message.opened', delta: 5 }));
    unwrap(await s.createPointRule(ctx, { name: 'Unused', eventType: 'delivery.message.clicked', delta: 100 }));
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const human = opened(org, ada.id, false);
    await bus.publish([opened(org, ada.id, true)]);
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(0);
    await bus.publish([human]);
    await bus.publish([human]);
    await bus.publish([opened(org, ada.id, false)]);
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(10);
    expect((await pointsEvents(org)).map((e) => e.points)).toEqual([5, 10]);
  });

  it('puts form submissions and page visits on the timeline, where behavioural segments and rules see them', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const form = newId();
    unwrap(
      await s.createPointRule(ctx, { name: 'Form', eventType: 'content.form.submitted', delta: 10, maxPerContact: 1 }),
    );
    unwrap(await s.createPointRule(ctx, { name: 'Visit', eventType: 'content.page.visited', delta: 1 }));
    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const bob = unwrap(await s.createContact(ctx, { email: 'bob@example.com' }));
    const submitted = unwrap(
      await s.createSegment(ctx, {
        name: 'demo form',
        filter: { behavior: { type: 'form.submitted', subject: form } },
      }),
    );
    const pricing = unwrap(
      await s.createSegment(ctx, {
        name: 'pricing',
        filter: { behavior: { type: 'page.visited', subjectLike: '%/pricing%', count: { op: 'gte', value: 2 } } },
      }),
    );
    for (const seg of [submitted, pricing]) unwrap(await s.rebuildSegment(ctx, seg.id));

    const submission = formSubmitted(org, ada.id, form);
    await bus.publish([submission]);
    await bus.publish([submission]); // redelivered
    await bus.publish([formSubmitted(org, ada.id, form)]);
    await bus.publish([formSubmitted(org, bob.id, newId())]);
    await bus.publish([pageVisited(org, bob.id, 'https://example.com/pricing?plan=pro')]);
    await bus.publish([pageVisited(org, bob.id, 'https://example.com/PRICING')]);
    await bus.publish([pageVisited(org, ada.id, 'https://example.com/pricing')]);
    // A contact of another organization is not reachable through this one's events.
    const stranger = unwrap(await s.createContact(newOrg(), { email: 'eve@example.com' }));
    await bus.publish([pageVisited(org, stranger.id, 'https://example.com/pricing')]);

    const members = async (id: string) =>
      (await s.segmentMembers(org, id, { fetch: 11, limit: 10 })).edges.map((e) => e.node.id);
    expect(await members(submitted.id)).toEqual([ada.id]);
    expect(await members(pricing.id)).toEqual([bob.id]);
    // Ada: the form once (limit 1) and one visit; Bob: another form (same rule, its own limit) and two visits.
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(11);
    expect(unwrap(await s.getContact(ctx, bob.id))?.points).toBe(12);
    expect(unwrap(await s.getContact(ctx, ada.id))?.lastActiveAt).not.toBeNull();

    const rows = await crm.handle.db
      .select({ type: activities.type, subject: activities.subject, properties: activities.properties })
      .from(activities)
      .where(and(eq(activities.organizationId, org), eq(activities.contactId, ada.id)))
      .orderBy(asc(activities.occurredAt), asc(activities.type));
    expect(rows.filter((r) => r.type === 'form.submitted')).toEqual([
      {
        type: 'form.submitted',
        subject: form,
        properties: { fields: { email: 'x@example.com', topics: ['a'] }, pageUrl: 'https://example.com/demo' },
      },
      expect.objectContaining({ type: 'form.submitted', subject: form }),
    ]);
    expect(rows.filter((r) => r.type === 'page.visited')).toEqual([
      {
        type: 'page.visited',
        subject: 'https://example.com/pricing',
        properties: { referrer: 'https://search.example/', pageId: null },
      },
    ]);
    const strangerActivity = await crm.handle.db.select().from(activities).where(eq(activities.contactId, stranger.id));
    expect(strangerActivity.filter((a) => a.type === 'page.visited')).toEqual([]);
  });
});

describe('content events into CRM (postgres, Kafka)', () => {
  it('puts a form submission published on the real broker on the timeline', async () => {
    await withKafkaCrm(async (crm, consumer) => {
      const ctx = newOrg();
      const form = newId();
      const ada = unwrap(await crm.services.createContact(ctx, { email: 'ada@example.com' }));
      const seg = unwrap(
        await crm.services.createSegment(ctx, {
          name: 'f',
          filter: { behavior: { type: 'form.submitted', subject: form } },
        }),
      );
      unwrap(await crm.services.rebuildSegment(ctx, seg.id));
      await consumer.publish([formSubmitted(ctx.organizationId, ada.id, form)]);
      await vi.waitFor(async () => expect(unwrap(await crm.services.getSegment(ctx, seg.id))?.memberCount).toBe(1), {
        timeout: 20_000,
        interval: 100,
      });
    });
  });
});
