// Tracing on, on Postgres and PGlite: a launch keeps its request's trace, and the fan-out goes on
// in it however much later it hands recipients over: `start campaign`, then one `hand over
// campaign` span per batch that wrote requests (none for a look the throttle held), each the
// parent of its batch's send requests. The integration tests (tracing.*.test.ts) follow the
// requests into delivery's sends.
import { eventEnvelopeSchema, newId } from '@mauntic/kernel';
import { inSpan, rowsOf, SpanKind, traceparentOf } from '@mauntic/platform';
import { eventually, type OtlpReceiver, traceToReceiver } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Context, contact, DATABASES, newOrg, openCampaign } from './harness.ts';

let receiver: OtlpReceiver;
let stopTracing: (() => Promise<void>) | undefined;
beforeAll(async () => {
  ({ receiver, stop: stopTracing } = await traceToReceiver('campaign-sender-test'));
});
afterAll(() => stopTracing?.());

describe.each(DATABASES)('the fan-out traced (%s)', (_, open) => {
  let ctx: Context;
  beforeAll(async () => {
    ctx = await openCampaign(open);
  });
  afterAll(() => ctx?.close());

  it('goes on in the launch trace, a span per batch handed over, the parent of its requests', async () => {
    const org = newOrg();
    const segment = newId();
    for (let i = 0; i < 5; i++) await contact(ctx, org.organizationId, [segment]);
    const created = await ctx.services.createCampaign(org, {
      name: 'Traced',
      channel: 'email',
      variants: [{ key: 'A', templateId: newId() }],
      segmentIds: [segment],
      throttle: { count: 2, per: 'hour' },
    } as never);
    if (!created.ok) throw created.error;
    const campaignId = created.value.id;
    let launch = '';
    await inSpan('POST /graphql', { kind: SpanKind.SERVER }, async () => {
      launch = traceparentOf()!;
      expect((await ctx.services.launchCampaign(org, { id: campaignId })).ok).toBe(true);
    });
    const [, traceId, launchSpan] = launch.split('-');

    // Two an hour: 2 now, none half an hour later (held), 2 an hour later, the last one after two.
    const start = ctx.clock.now.getTime();
    for (const minutes of [0, 30, 60, 120]) {
      ctx.clock.now = new Date(start + minutes * 60_000);
      await ctx.sender.tick();
    }
    ctx.clock.now = new Date();

    const ours = (name: string) =>
      receiver.spans.filter((s) => s.name === name && s.attributes['mauntic.campaign.id'] === campaignId);
    const batches = await eventually('the three batches exported', async () =>
      ours('hand over campaign').length >= 3 ? ours('hand over campaign') : undefined,
    );
    const [started] = await eventually('the start exported', async () =>
      ours('start campaign').length ? ours('start campaign') : undefined,
    );
    expect(started).toMatchObject({ traceId, parentSpanId: launchSpan });
    expect(batches.map((b) => b.attributes['messaging.batch.message_count'])).toEqual([2, 2, 1]);
    for (const batch of batches) expect(batch).toMatchObject({ traceId, parentSpanId: launchSpan });

    // Each request names its batch as parent; the campaign's own events are in the trace too.
    const envelopes = rowsOf<{ envelope: unknown }>(
      await ctx.handle.db.execute(sql`
        select envelope from campaign.outbox where organization_id = ${org.organizationId} order by seq`),
    ).map((r) => eventEnvelopeSchema.parse(typeof r.envelope === 'string' ? JSON.parse(r.envelope) : r.envelope));
    const requests = envelopes.filter((e) => e.type === 'delivery.message.requested');
    expect(requests).toHaveLength(5);
    const parents = requests.map((r) => r.traceparent!.split('-'));
    expect(parents.every(([, trace]) => trace === traceId)).toBe(true);
    expect(parents.map(([, , span]) => span)).toEqual(
      batches.flatMap((b) => Array(b.attributes['messaging.batch.message_count']).fill(b.spanId)),
    );
    const own = envelopes.filter((e) => e.type.startsWith('campaign.'));
    // Launched, one progress event per batch (2, 2 and 1), completed: all in the launch's trace.
    expect(own.map((e) => e.type)).toEqual([
      'campaign.campaign.launched',
      'campaign.campaign.progressed',
      'campaign.campaign.progressed',
      'campaign.campaign.progressed',
      'campaign.campaign.completed',
    ]);
    expect(own.every((e) => e.traceparent?.split('-')[1] === traceId)).toBe(true);
  });
});
