// A/B tests on a real database: the sample split among the variants, the winner chosen after the
// window by each criterion (or by hand), and the rest of the audience sent the winner, once.
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDeliveryEvent } from '../src/app/campaign-stats.ts';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import { type Context, contact, DATABASES, eventsOf, newOrg, openCampaign, requestsOf } from './harness.ts';

type Criterion = 'opens' | 'clicks' | 'conversions';

describe.each(DATABASES)('A/B tests (%s)', (_, open) => {
  let ctx: Context;
  beforeAll(async () => {
    ctx = await openCampaign(open);
  });
  afterAll(() => ctx?.close());

  /** A campaign of two variants to ten contacts, a 40% sample, launched and its sample handed over. */
  async function sampled(criterion: Criterion) {
    const org = newOrg();
    const segment = newId();
    for (let i = 0; i < 10; i++) await contact(ctx, org.organizationId, [segment]);
    ctx.clock.now = new Date('2026-05-01T10:00:00Z');
    const created = await ctx.services.createCampaign(org, {
      name: 'Subject lines',
      channel: 'email',
      segmentIds: [segment],
      variants: [
        { key: 'A', templateId: newId() },
        { key: 'B', templateId: newId() },
      ],
      abTest: {
        samplePercent: 40,
        criterion,
        windowMinutes: 60,
        ...(criterion === 'conversions' ? { conversionEvent: 'order.placed' } : {}),
      },
    });
    if (!created.ok) throw created.error;
    const campaign = created.value;
    expect((await ctx.services.launchCampaign(org, { id: campaign.id })).ok).toBe(true);
    await ctx.sender.tick();
    const sample = await requestsOf(ctx, campaign.id);
    return { org, campaign, sample };
  }

  /** What shows B is better under each criterion: its recipient opened, clicked or converted. */
  async function favourB(criterion: Criterion, org: ReturnType<typeof newOrg>, campaignId: string, contactId: string) {
    const base = { organizationId: org.organizationId, subjectId: contactId, correlationId: 't' };
    const message = {
      messageId: newId(),
      contactId,
      channel: 'email' as const,
      address: 'x@example.com',
      templateId: null,
      source: { kind: 'campaign' as const, id: campaignId, stepId: 'B' },
    };
    const d = catalogue.delivery;
    if (criterion === 'opens')
      await applyDeliveryEvent(
        ctx.services.deps,
        createEvent(d.messageOpened, { ...base, data: { ...message, machine: false } }),
      );
    else if (criterion === 'clicks')
      await applyDeliveryEvent(
        ctx.services.deps,
        createEvent(d.messageClicked, { ...base, data: { ...message, url: 'https://x.example', machine: false } }),
      );
    else
      await applyCrmEvent(
        ctx.services.deps,
        createEvent(catalogue.crm.contactEventTracked, {
          ...base,
          data: { name: 'order.placed', properties: {}, occurredAt: '2026-05-01T10:30:00Z' },
        }),
      );
  }

  it.each(['opens', 'clicks', 'conversions'] as const)(
    'the variant with more %s wins after the window, and the rest get it once',
    async (criterion) => {
      const { org, campaign, sample } = await sampled(criterion);
      expect(sample).toHaveLength(4);
      expect(sample.filter((r) => r.variant === 'A')).toHaveLength(2);
      expect(sample.filter((r) => r.variant === 'B')).toHaveLength(2);
      // A machine open counts for nothing.
      await applyDeliveryEvent(
        ctx.services.deps,
        createEvent(catalogue.delivery.messageOpened, {
          organizationId: org.organizationId,
          subjectId: sample[0]!.contactId!,
          correlationId: 't',
          data: {
            messageId: newId(),
            contactId: null,
            channel: 'email',
            address: 'x@example.com',
            templateId: null,
            source: { kind: 'campaign', id: campaign.id, stepId: 'A' },
            machine: true,
          },
        }),
      );
      await favourB(criterion, org, campaign.id, sample.find((r) => r.variant === 'B')!.contactId!);

      // Within the window nothing more goes out.
      ctx.clock.now = new Date('2026-05-01T10:59:00Z');
      await ctx.sender.tick();
      expect(await requestsOf(ctx, campaign.id)).toHaveLength(4);
      ctx.clock.now = new Date('2026-05-01T11:00:00Z');
      await ctx.sender.tick();
      const all = await requestsOf(ctx, campaign.id);
      expect(all).toHaveLength(10);
      expect(new Set(all.map((r) => r.contactId)).size).toBe(10);
      expect(all.slice(4).every((r) => r.variant === 'B')).toBe(true);
      const done = await ctx.services.getCampaign(org, campaign.id);
      expect(done.ok && done.value).toMatchObject({
        status: 'completed',
        winner: 'B',
        scores: { A: 0, B: 1 },
        sampleSize: 4,
      });
      const lifecycle = (await eventsOf(ctx, campaign.id)).filter((t) => t !== 'campaign.campaign.progressed');
      expect(lifecycle).toEqual(['campaign.campaign.launched', 'campaign.variant.won', 'campaign.campaign.completed']);
      if (criterion === 'conversions' && done.ok && done.value) {
        const [a, b] = await ctx.services.campaignStats(done.value);
        expect([a!.converted, b!.converted]).toEqual([0, 1]);
      }
    },
  );

  it('a winner picked by hand goes to the rest at once; a second pick is refused', async () => {
    const { org, campaign } = await sampled('opens');
    const picked = await ctx.services.chooseWinner(org, { id: campaign.id, variant: 'A' });
    expect(picked.ok && picked.value.winner).toBe('A');
    await ctx.sender.tick();
    const all = await requestsOf(ctx, campaign.id);
    expect(all).toHaveLength(10);
    expect(all.slice(4).every((r) => r.variant === 'A')).toBe(true);
    const again = await ctx.services.chooseWinner(org, { id: campaign.id, variant: 'B' });
    expect(again.ok ? null : again.error).toMatchObject({ code: 'CAMPAIGN_ILLEGAL_TRANSITION', status: 'completed' });
  });
});
