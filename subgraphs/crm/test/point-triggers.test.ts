// Point groups, targeted rules and point triggers on real databases: group scores stay apart
// from the default one, rules fire only for their email, form, URL pattern or property, and a
// trigger fires once per contact (or at every crossing when it repeats), also when the event
// that gave the points is delivered again.
import { catalogue, createEvent, type EventEnvelope, newId, unwrap } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outbox } from '../src/db/schema.ts';
import { DATABASES, newOrg, openCrm, runGraphql } from './harness.ts';

const logger = createLogger('test', 'silent');

const opened = (org: string, contactId: string, templateId: string): EventEnvelope =>
  createEvent(catalogue.delivery.messageOpened, {
    organizationId: org,
    subjectId: contactId,
    correlationId: newId(),
    data: {
      messageId: newId(),
      contactId,
      channel: 'email',
      address: 'x@example.com',
      templateId,
      source: { kind: 'campaign', id: null, stepId: null },
      machine: false,
    },
  });

const visited = (org: string, contactId: string, url: string): EventEnvelope =>
  createEvent(catalogue.content.pageVisited, {
    organizationId: org,
    subjectId: contactId,
    correlationId: newId(),
    data: { contactId, url, referrer: null, pageId: null },
  });

const submitted = (org: string, contactId: string, formId: string): EventEnvelope =>
  createEvent(catalogue.content.formSubmitted, {
    organizationId: org,
    subjectId: contactId,
    correlationId: newId(),
    data: { formId, contactId, fields: {}, pageUrl: null },
  });

describe.each(DATABASES)('point groups, targeted rules and triggers (%s)', (_name, open) => {
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

  const published = async (org: string, type: string) =>
    (
      await crm.handle.db
        .select({ envelope: outbox.envelope })
        .from(outbox)
        .where(and(eq(outbox.organizationId, org), eq(outbox.type, type)))
        .orderBy(asc(outbox.seq))
    ).map((r) => r.envelope as { data: Record<string, unknown>; subject: { id: string } });

  it('keeps each group score apart from the default points, readable per contact in GraphQL', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const engagement = unwrap(await s.createPointGroup(ctx, { name: 'engagement' }));
    const interest = unwrap(await s.createPointGroup(ctx, { name: 'product interest' }));
    expect(await s.createPointGroup(ctx, { name: 'engagement' })).toMatchObject({
      ok: false,
      error: { code: 'VALIDATION_FAILED' },
    });
    unwrap(
      await s.createPointRule(ctx, {
        name: 'webinar',
        eventType: 'custom',
        customName: 'webinar',
        delta: 10,
        groupId: engagement.id,
      }),
    );
    unwrap(await s.createPointRule(ctx, { name: 'any webinar', eventType: 'custom', customName: 'webinar', delta: 1 }));
    // A group of another organization cannot be named.
    const foreign = unwrap(await s.createPointGroup(newOrg(), { name: 'x' }));
    expect(
      await s.createPointRule(ctx, { name: 'x', eventType: 'custom', customName: 'a', delta: 1, groupId: foreign.id }),
    ).toMatchObject({ ok: false, error: { issues: [{ path: ['input', 'groupId'] }] } });

    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'webinar' }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'webinar' }));
    unwrap(await s.adjustPoints(ctx, { contactId: ada.id, delta: 7, groupId: interest.id }));
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(2);

    const read = await runGraphql(
      s,
      ctx,
      `query($id: ID!) { contact(id: $id) { points pointGroups { group { name } points } } }`,
      { id: ada.id },
    );
    expect(read.errors).toBeUndefined();
    expect(read.data?.contact).toEqual({
      points: 2,
      pointGroups: [
        { group: { name: 'engagement' }, points: 20 },
        { group: { name: 'product interest' }, points: 7 },
      ],
    });
    expect((await published(ctx.organizationId, 'crm.group-points.changed')).map((e) => e.data.points)).toEqual([
      10, 20, 7,
    ]);
    // A merge adds the loser's group scores to the winner's.
    const bob = unwrap(await s.createContact(ctx, { email: 'bob@example.com' }));
    unwrap(await s.adjustPoints(ctx, { contactId: bob.id, delta: 5, groupId: interest.id }));
    unwrap(await s.mergeContacts(ctx, { winnerId: ada.id, loserId: bob.id }));
    const merged = await runGraphql(s, ctx, `query($id: ID!) { contact(id: $id) { pointGroups { points } } }`, {
      id: ada.id,
    });
    expect(merged.data?.contact.pointGroups).toEqual([{ points: 20 }, { points: 12 }]);
    // Deleting a group takes its scores and rules with it.
    unwrap(await s.deletePointGroup(ctx, engagement.id));
    expect(unwrap(await s.listPointRules(ctx)).map((r) => r.name)).toEqual(['any webinar']);
  });

  it('gives points only for the email, form, URL pattern or event property a rule targets', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const [template, form] = [newId(), newId()];
    unwrap(
      await s.createPointRule(ctx, {
        name: 'newsletter',
        eventType: 'delivery.message.opened',
        delta: 1,
        subject: template,
      }),
    );
    unwrap(
      await s.createPointRule(ctx, {
        name: 'demo form',
        eventType: 'content.form.submitted',
        delta: 10,
        subject: form,
      }),
    );
    unwrap(
      await s.createPointRule(ctx, {
        name: 'pricing',
        eventType: 'content.page.visited',
        delta: 100,
        subject: 'https://example.com/pricing*',
      }),
    );
    unwrap(
      await s.createPointRule(ctx, {
        name: 'pro plan',
        eventType: 'custom',
        customName: 'purchase',
        delta: 1000,
        propertyName: 'plan',
        propertyValue: 'pro',
      }),
    );
    expect(
      await s.createPointRule(ctx, { name: 'x', eventType: 'content.form.submitted', delta: 1, subject: 'not-an-id' }),
    ).toMatchObject({ ok: false, error: { issues: [{ path: ['input', 'subject'], message: 'must be a form id' }] } });
    expect(
      await s.createPointRule(ctx, { name: 'x', eventType: 'custom', customName: 'a', delta: 1, propertyName: 'plan' }),
    ).toMatchObject({ ok: false, error: { issues: [{ path: ['input', 'propertyValue'] }] } });

    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    await bus.publish([opened(org, ada.id, template), opened(org, ada.id, newId())]);
    await bus.publish([submitted(org, ada.id, form), submitted(org, ada.id, newId())]);
    await bus.publish([
      visited(org, ada.id, 'https://EXAMPLE.com/pricing?plan=pro'),
      visited(org, ada.id, 'https://example.com/about/pricing'),
    ]);
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase', properties: { plan: 'pro' } }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase', properties: { plan: 'basic' } }));
    unwrap(await s.trackContactEvent(ctx, { contactId: ada.id, name: 'purchase' }));
    expect(unwrap(await s.getContact(ctx, ada.id))?.points).toBe(1111);
  });

  it('fires a trigger once per contact, at every crossing when it repeats, and once under redelivery', async () => {
    const ctx = newOrg();
    const s = crm.services;
    const org = ctx.organizationId;
    const template = newId();
    const journeyId = newId();
    const hot = unwrap(await s.createStage(ctx, { name: 'Hot', position: 2 }));
    const vip = unwrap(await s.createSegment(ctx, { name: 'vip', kind: 'static' }));
    const engagement = unwrap(await s.createPointGroup(ctx, { name: 'engagement' }));
    unwrap(await s.createPointRule(ctx, { name: 'open', eventType: 'delivery.message.opened', delta: 10 }));
    const once = { threshold: 20 };
    unwrap(await s.createPointTrigger(ctx, { name: 'tag', ...once, action: { type: 'add_tags', tags: ['Hot lead'] } }));
    unwrap(
      await s.createPointTrigger(ctx, { name: 'stage', ...once, action: { type: 'change_stage', stageId: hot.id } }),
    );
    unwrap(
      await s.createPointTrigger(ctx, { name: 'seg', ...once, action: { type: 'add_to_segment', segmentId: vip.id } }),
    );
    unwrap(
      await s.createPointTrigger(ctx, { name: 'journey', ...once, action: { type: 'enroll_in_journey', journeyId } }),
    );
    const notify = unwrap(
      await s.createPointTrigger(ctx, {
        name: 'tell sales',
        ...once,
        repeat: true,
        action: { type: 'notify_email', target: 'sales@example.com', templateId: template },
      }),
    );
    // A group's trigger does not see the default points.
    unwrap(
      await s.createPointTrigger(ctx, {
        name: 'group',
        groupId: engagement.id,
        threshold: 1,
        action: { type: 'add_tags', tags: ['engaged'] },
      }),
    );
    expect(
      await s.createPointTrigger(ctx, {
        name: 'bad',
        threshold: 1,
        action: { type: 'change_stage', stageId: newId() },
      }),
    ).toMatchObject({ ok: false, error: { issues: [{ path: ['input', 'action', 'stageId'] }] } });
    expect(
      await s.createPointTrigger(ctx, { name: 'bad', threshold: 1, action: { type: 'notify_email' } as never }),
    ).toMatchObject({ ok: false, error: { code: 'VALIDATION_FAILED' } });

    const ada = unwrap(await s.createContact(ctx, { email: 'ada@example.com' }));
    const first = opened(org, ada.id, template);
    await bus.publish([first]);
    const second = opened(org, ada.id, template);
    await bus.publish([second]);
    await bus.publish([second]); // redelivered: no points, no firing
    let contact = unwrap(await s.getContact(ctx, ada.id))!;
    expect(contact).toMatchObject({ points: 20, tags: ['hot lead'], stageId: hot.id });
    expect((await s.segmentMembers(org, vip.id, { fetch: 11, limit: 10 })).edges.map((e) => e.node.id)).toEqual([
      ada.id,
    ]);

    // Down and over the threshold again: only the repeating trigger fires again.
    unwrap(await s.adjustPoints(ctx, { contactId: ada.id, delta: -15 }));
    await bus.publish([opened(org, ada.id, template)]);
    contact = unwrap(await s.getContact(ctx, ada.id))!;
    expect(contact).toMatchObject({ points: 15, tags: ['hot lead'] });
    unwrap(await s.adjustPoints(ctx, { contactId: ada.id, delta: 5 }));

    expect((await published(org, 'crm.journey-enrollment.requested')).map((e) => e.data)).toEqual([
      { journeyId, triggerId: expect.any(String), idempotencyKey: expect.stringMatching(/:1$/) },
    ]);
    const requests = (await published(org, 'delivery.message.requested')).map((e) => e.data);
    expect(requests).toEqual([
      expect.objectContaining({
        channel: 'email',
        templateId: template,
        contactId: null,
        address: 'sales@example.com',
        idempotencyKey: `point-trigger:${notify.id}:${ada.id}:1`,
        source: { kind: 'transactional', id: notify.id, stepId: null },
      }),
      expect.objectContaining({ idempotencyKey: `point-trigger:${notify.id}:${ada.id}:2` }),
    ]);
    expect(requests[0]?.context).toMatchObject({ contact: { id: ada.id, email: 'ada@example.com' } });
    expect(contact.tags).not.toContain('engaged');
    const list = await runGraphql(
      s,
      ctx,
      '{ pointTriggers { name threshold repeat action { type tags stageId target templateId } } }',
    );
    expect(list.data?.pointTriggers).toContainEqual({
      name: 'tell sales',
      threshold: 20,
      repeat: true,
      action: { type: 'NOTIFY_EMAIL', tags: null, stageId: null, target: 'sales@example.com', templateId: template },
    });
  });
});
