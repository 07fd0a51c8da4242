// A campaign from draft to completed on a real database: the audience chosen once (segments minus
// exclusions, do-not-contact and deleted contacts), every recipient's send request written once
// with its key, the state machine's refusals, sends at a local time across a DST change, the
// throttle, and stats from delivery's events.
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeliveryEvent } from '../src/app/campaign-stats.ts';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { CampaignTransitionError } from '../src/domain/errors.ts';
import { type Context, contact, DATABASES, eventsOf, newOrg, openCampaign, progressOf, requestsOf } from './harness.ts';

describe.each(DATABASES)('campaigns (%s)', (_, open) => {
  let ctx: Context;
  beforeAll(async () => {
    ctx = await openCampaign(open);
  });
  afterAll(() => ctx?.close());

  const draft = async (org: ReturnType<typeof newOrg>, input: Record<string, unknown>) => {
    const created = await ctx.services.createCampaign(org, {
      name: 'Spring sale',
      channel: 'email',
      ...input,
    } as never);
    if (!created.ok) throw created.error;
    return created.value;
  };

  it('sends once to segment members minus exclusions, do-not-contact and deleted contacts', async () => {
    const org = newOrg();
    const [buyers, vips, blocked] = [newId(), newId(), newId()];
    const template = newId();
    const a = await contact(ctx, org.organizationId, [buyers]);
    const b = await contact(ctx, org.organizationId, [buyers, vips]);
    const excluded = await contact(ctx, org.organizationId, [vips, blocked]);
    const dnc = await contact(ctx, org.organizationId, [buyers]);
    const gone = await contact(ctx, org.organizationId, [buyers]);
    await contact(ctx, org.organizationId, []);
    await contact(ctx, newOrg().organizationId, [buyers]);
    const deps = ctx.services.deps;
    const base = { organizationId: org.organizationId, correlationId: 't' };
    await applyCrmEvent(
      deps,
      createEvent(catalogue.crm.dncChanged, {
        ...base,
        subjectId: dnc,
        data: { channel: 'email', doNotContact: true, reason: 'unsubscribed' },
      }),
    );
    await applyCrmEvent(
      deps,
      createEvent(catalogue.crm.contactDeleted, { ...base, subjectId: gone, data: { erased: true } }),
    );

    const campaign = await draft(org, {
      variants: [{ key: 'A', templateId: template }],
      segmentIds: [buyers, vips],
      excludedSegmentIds: [blocked],
      utm: { source: 'newsletter', medium: 'email', campaign: 'spring-sale' },
    });
    const launched = await ctx.services.launchCampaign(org, { id: campaign.id });
    expect(launched.ok && launched.value.status).toBe('sending');
    await ctx.sender.tick();
    const requests = await requestsOf(ctx, campaign.id);
    expect(requests.map((r) => r.contactId).sort()).toEqual([a, b].sort());
    expect(requests.every((r) => r.templateId === template && r.variant === 'A')).toBe(true);
    expect(requests.map((r) => r.idempotencyKey)).toContain(`campaign:${campaign.id}:${a}:A`);
    expect(requests.map((r) => r.contactId)).not.toContain(excluded);
    // Each request carries the campaign's UTM values: delivery adds them to the tracked links.
    expect(requests[0]!.context).toEqual({
      campaignId: campaign.id,
      variant: 'A',
      utm: { source: 'newsletter', medium: 'email', campaign: 'spring-sale' },
    });

    // Later ticks repeat no one; the campaign completed with its events.
    await ctx.sender.tick();
    await ctx.sender.tick();
    expect(await requestsOf(ctx, campaign.id)).toHaveLength(2);
    const done = await ctx.services.getCampaign(org, campaign.id);
    expect(done.ok && done.value).toMatchObject({ status: 'completed', recipientCount: 2, requestedCount: 2 });
    expect(await eventsOf(ctx, campaign.id)).toEqual([
      'campaign.campaign.launched',
      'campaign.campaign.progressed',
      'campaign.campaign.completed',
    ]);
    expect(await progressOf(ctx, campaign.id)).toEqual([{ recipients: 2, requested: 2, skipped: 0 }]);
  });

  it('passes by whoever left the audience between the launch and their turn, and adds nobody who joined', async () => {
    const org = newOrg();
    const [segment, blocked] = [newId(), newId()];
    const members: string[] = [];
    for (let i = 0; i < 6; i++) members.push(await contact(ctx, org.organizationId, [segment]));
    const campaign = await draft(org, {
      variants: [{ key: 'A', templateId: newId() }],
      segmentIds: [segment],
      excludedSegmentIds: [blocked],
      throttle: { count: 2, per: 'hour' },
    });
    await ctx.services.launchCampaign(org, { id: campaign.id });
    const start = ctx.clock.now.getTime();
    await ctx.sender.tick();
    const first = (await requestsOf(ctx, campaign.id)).map((r) => r.contactId!);
    expect(first).toHaveLength(2);

    // While the throttle holds the rest: one leaves the segment, one enters the excluded segment,
    // one may no longer be emailed, and a new member joins.
    const [left, excluded, unsubscribed, ...staying] = members.filter((id) => !first.includes(id));
    const deps = ctx.services.deps;
    const base = { organizationId: org.organizationId, correlationId: 't' };
    await applyCrmEvent(
      deps,
      createEvent(catalogue.crm.segmentExited, { ...base, subjectId: left!, data: { segmentId: segment } }),
    );
    await applyCrmEvent(
      deps,
      createEvent(catalogue.crm.segmentEntered, { ...base, subjectId: excluded!, data: { segmentId: blocked } }),
    );
    await applyCrmEvent(
      deps,
      createEvent(catalogue.crm.dncChanged, {
        ...base,
        subjectId: unsubscribed!,
        data: { channel: 'email', doNotContact: true, reason: 'unsubscribed' },
      }),
    );
    const joined = await contact(ctx, org.organizationId, [segment]);

    for (const hours of [1, 2, 3]) {
      ctx.clock.now = new Date(start + hours * 3_600_000);
      await ctx.sender.tick();
    }
    const requested = (await requestsOf(ctx, campaign.id)).map((r) => r.contactId!);
    expect(requested.sort()).toEqual([...first, ...staying].sort());
    expect(requested).not.toContain(joined);
    const done = await ctx.services.getCampaign(org, campaign.id);
    expect(done.ok && done.value).toMatchObject({
      status: 'completed',
      recipientCount: 6,
      requestedCount: 3,
      skippedCount: 3,
    });
    expect((await progressOf(ctx, campaign.id)).at(-1)).toEqual({ recipients: 6, requested: 3, skipped: 3 });
    ctx.clock.now = new Date();
  });

  it('refuses illegal moves with a typed error, and a paused campaign hands nothing over', async () => {
    const org = newOrg();
    const segment = newId();
    for (let i = 0; i < 7; i++) await contact(ctx, org.organizationId, [segment]);
    const campaign = await draft(org, { variants: [{ key: 'A', templateId: newId() }], segmentIds: [segment] });
    const refused = async (result: Promise<{ ok: boolean; error?: unknown }>, status: string, action: string) => {
      const r = await result;
      expect(r.ok).toBe(false);
      expect(r.error).toBeInstanceOf(CampaignTransitionError);
      expect(r.error).toMatchObject({ status, action, code: 'CAMPAIGN_ILLEGAL_TRANSITION' });
    };
    await refused(ctx.services.pauseCampaign(org, { id: campaign.id }), 'draft', 'pause');
    await refused(ctx.services.resumeCampaign(org, { id: campaign.id }), 'draft', 'resume');
    await refused(ctx.services.cancelCampaign(org, { id: campaign.id }), 'draft', 'cancel');

    expect((await ctx.services.launchCampaign(org, { id: campaign.id })).ok).toBe(true);
    await refused(ctx.services.launchCampaign(org, { id: campaign.id }), 'sending', 'launch');
    await refused(ctx.services.updateCampaign(org, { id: campaign.id, name: 'x' }), 'sending', 'edit');
    expect((await ctx.services.pauseCampaign(org, { id: campaign.id })).ok).toBe(true);
    await refused(ctx.services.pauseCampaign(org, { id: campaign.id }), 'paused', 'pause');
    await ctx.sender.tick();
    expect(await requestsOf(ctx, campaign.id)).toHaveLength(0);

    // Resumed, it starts; paused mid-way (batches of 3), it stops where it was.
    const resumed = await ctx.services.resumeCampaign(org, { id: campaign.id });
    expect(resumed.ok && resumed.value.status).toBe('scheduled');
    await ctx.sender.tick();
    expect(await requestsOf(ctx, campaign.id)).toHaveLength(7);
    expect((await ctx.services.getCampaign(org, campaign.id)).ok).toBe(true);
    await refused(ctx.services.cancelCampaign(org, { id: campaign.id }), 'completed', 'cancel');
    expect(await eventsOf(ctx, campaign.id)).toEqual([
      'campaign.campaign.paused',
      'campaign.campaign.resumed',
      'campaign.campaign.launched',
      'campaign.campaign.progressed',
      'campaign.campaign.progressed',
      'campaign.campaign.progressed',
      'campaign.campaign.completed',
    ]);
    // One progress event per batch of 3, with where the launch stands.
    expect((await progressOf(ctx, campaign.id)).map((p) => p.requested)).toEqual([3, 6, 7]);
  });

  it('cancelling mid-way hands over nobody else, and says how many were handed over', async () => {
    const org = newOrg();
    const segment = newId();
    for (let i = 0; i < 7; i++) await contact(ctx, org.organizationId, [segment]);
    const campaign = await draft(org, {
      variants: [{ key: 'A', templateId: newId() }],
      segmentIds: [segment],
      throttle: { count: 4, per: 'minute' },
    });
    await ctx.services.launchCampaign(org, { id: campaign.id });
    await ctx.sender.tick();
    // The throttle held it at 4 in this minute.
    expect(await requestsOf(ctx, campaign.id)).toHaveLength(4);
    const cancelled = await ctx.services.cancelCampaign(org, { id: campaign.id });
    expect(cancelled.ok && cancelled.value.status).toBe('cancelled');
    ctx.clock.now = new Date(ctx.clock.now.getTime() + 61_000);
    await ctx.sender.tick();
    expect(await requestsOf(ctx, campaign.id)).toHaveLength(4);
  });

  it('the throttle lets out so many per window', async () => {
    const org = newOrg();
    const segment = newId();
    for (let i = 0; i < 5; i++) await contact(ctx, org.organizationId, [segment]);
    const campaign = await draft(org, {
      variants: [{ key: 'A', templateId: newId() }],
      segmentIds: [segment],
      throttle: { count: 2, per: 'hour' },
    });
    await ctx.services.launchCampaign(org, { id: campaign.id });
    const start = ctx.clock.now.getTime();
    const at = async (ms: number, expected: number) => {
      ctx.clock.now = new Date(start + ms);
      await ctx.sender.tick();
      expect(await requestsOf(ctx, campaign.id)).toHaveLength(expected);
    };
    await at(0, 2);
    // Without UTM values, the context names the campaign and variant only.
    expect((await requestsOf(ctx, campaign.id))[0]!.context).toEqual({ campaignId: campaign.id, variant: 'A' });
    await at(30 * 60_000, 2);
    await at(60 * 60_000, 4);
    await at(120 * 60_000, 5);
    ctx.clock.now = new Date();
  });

  it("sends at a local time in each contact's zone, across a DST change, the campaign's zone for the rest", async () => {
    const org = newOrg();
    const segment = newId();
    // 29 March 2026: Paris moves to summer time at 01:00 UTC (09:00 there is 07:00 UTC); New York
    // moved on 8 March (09:00 is 13:00 UTC); contacts without a zone take Tokyo's (00:00 UTC).
    const paris = await contact(ctx, org.organizationId, [segment], { timezone: 'Europe/Paris' });
    const newYork = await contact(ctx, org.organizationId, [segment], { timezone: 'America/New_York' });
    const noZone = await contact(ctx, org.organizationId, [segment]);
    const bogus = await contact(ctx, org.organizationId, [segment], { timezone: 'Mars/Olympus' });
    ctx.clock.now = new Date('2026-03-28T12:00:00Z');
    const campaign = await draft(org, {
      variants: [{ key: 'A', templateId: newId() }],
      segmentIds: [segment],
      localSendAt: '2026-03-29T09:00',
      timezone: 'Asia/Tokyo',
    });
    const launched = await ctx.services.launchCampaign(org, { id: campaign.id });
    expect(launched.ok && launched.value).toMatchObject({
      status: 'scheduled',
      sendAt: new Date('2026-03-28T19:00:00Z'),
    });
    const sentBy = async (iso: string) => {
      ctx.clock.now = new Date(iso);
      await ctx.sender.tick();
      return (await requestsOf(ctx, campaign.id)).map((r) => r.contactId).sort();
    };
    expect(await sentBy('2026-03-28T18:59:00Z')).toEqual([]);
    expect(await sentBy('2026-03-29T00:00:00Z')).toEqual([noZone, bogus].sort());
    expect(await sentBy('2026-03-29T06:59:00Z')).toEqual([noZone, bogus].sort());
    expect(await sentBy('2026-03-29T07:00:00Z')).toEqual([noZone, bogus, paris].sort());
    expect(await sentBy('2026-03-29T12:59:00Z')).toHaveLength(3);
    expect(await sentBy('2026-03-29T13:00:00Z')).toEqual([noZone, bogus, paris, newYork].sort());
    await ctx.sender.tick();
    const done = await ctx.services.getCampaign(org, campaign.id);
    expect(done.ok && done.value?.status).toBe('completed');
    ctx.clock.now = new Date();
  });

  it('counts delivery outcomes by variant: unique human and machine opens apart, clicks per link', async () => {
    const org = newOrg();
    const segment = newId();
    await contact(ctx, org.organizationId, [segment]);
    const campaign = await draft(org, { variants: [{ key: 'A', templateId: newId() }], segmentIds: [segment] });
    const message = (messageId: string) => ({
      messageId,
      contactId: newId(),
      channel: 'email' as const,
      address: 'x@example.com',
      templateId: null,
      source: { kind: 'campaign' as const, id: campaign.id, stepId: 'A' },
    });
    const d = catalogue.delivery;
    const base = { organizationId: org.organizationId, subjectId: newId(), correlationId: 't' };
    const [m1, m2] = [newId(), newId()];
    const events = [
      createEvent(d.messageSent, { ...base, data: message(m1) }),
      createEvent(d.messageSent, { ...base, data: message(m2) }),
      createEvent(d.messageOpened, { ...base, data: { ...message(m1), machine: false } }),
      createEvent(d.messageOpened, { ...base, data: { ...message(m1), machine: false } }),
      createEvent(d.messageOpened, { ...base, data: { ...message(m2), machine: true } }),
      createEvent(d.messageClicked, {
        ...base,
        data: { ...message(m1), url: 'https://shop.example/a', machine: false },
      }),
      createEvent(d.messageClicked, {
        ...base,
        data: { ...message(m1), url: 'https://shop.example/a', machine: false },
      }),
      createEvent(d.messageClicked, {
        ...base,
        data: { ...message(m2), url: 'https://shop.example/b', machine: true },
      }),
      createEvent(d.messageBounced, { ...base, data: { ...message(m2), bounceType: 'hard', reason: '550' } }),
    ];
    for (const event of events) await applyDeliveryEvent(ctx.services.deps, event);
    // A redelivered event changes nothing.
    await applyDeliveryEvent(ctx.services.deps, events[3]!);
    const row = (await ctx.services.getCampaign(org, campaign.id)) as { ok: true; value: never };
    const [stats] = await ctx.services.campaignStats(row.value);
    expect(stats).toMatchObject({
      variant: 'A',
      sent: 2,
      openedHuman: 1,
      openedMachine: 1,
      opens: 2,
      clicked: 1,
      clicks: 2,
      bounced: 1,
    });
    expect(await ctx.services.clickMap(row.value)).toEqual([
      { variant: 'A', url: 'https://shop.example/a', uniqueClicks: 1, clicks: 2 },
    ]);
  });

  it('a test send asks delivery for each variant to each chosen address, anew each time', async () => {
    const org = newOrg();
    const template = newId();
    const campaign = await draft(org, { variants: [{ key: 'A', templateId: template }], utm: { source: 'test' } });
    const sent = await ctx.services.sendCampaignTest(org, {
      id: campaign.id,
      addresses: ['me@example.com', 'boss@example.com'],
    });
    expect(sent.ok && sent.value.status).toBe('draft');
    await ctx.services.sendCampaignTest(
      { ...org, correlationId: newId() },
      { id: campaign.id, addresses: ['me@example.com'] },
    );
    const requests = await requestsOf(ctx, campaign.id);
    expect(requests.map((r) => [r.contactId, r.templateId, r.variant])).toEqual([
      [null, template, 'test'],
      [null, template, 'test'],
      [null, template, 'test'],
    ]);
    expect(new Set(requests.map((r) => r.idempotencyKey)).size).toBe(3);
    expect(requests[0]!.context).toEqual({
      campaignId: campaign.id,
      variant: 'A',
      test: true,
      utm: { source: 'test' },
    });
    const bad = await ctx.services.sendCampaignTest(org, { id: campaign.id, addresses: ['not an address'] });
    expect(bad.ok ? null : bad.error).toMatchObject({ code: 'VALIDATION_FAILED' });
  });

  it('refuses to launch a draft without a template or a segment, every issue at once', async () => {
    const org = newOrg();
    const campaign = await draft(org, {});
    const result = await ctx.services.launchCampaign(org, { id: campaign.id });
    expect(result.ok).toBe(false);
    expect(result.ok ? null : result.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ path: ['campaign', 'variants'] }, { path: ['campaign', 'segmentIds'] }],
    });
    const other = await ctx.services.getCampaign(newOrg(), campaign.id);
    expect(other.ok && other.value).toBeNull();
  });
});
