// The Segment-compatible endpoint's use case on a real database: what it accepts is in the
// outbox (one catalogued event per call) with its messageId recorded, in one commit; a resent
// messageId is acknowledged and not applied again; and what it refuses (oversize, malformed,
// unknown write key) is answered as Segment documents and leaves nothing written.
import { type EventEnvelope, parseEvent, unwrap } from '@mauntic/kernel';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEDUP_WINDOW_MS, forgetOldMessageIds } from '../src/app/dedup-window.ts';
import { outbox, receivedMessages } from '../src/db/schema.ts';
import { basic, DATABASES, newOrg, openIntegrations } from './harness.ts';

describe.each(DATABASES)('Segment-compatible ingestion (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  beforeAll(async () => {
    env = await openIntegrations(open);
  });
  afterAll(() => env?.close());

  const events = async (organizationId: string): Promise<EventEnvelope[]> =>
    (
      await env.handle.db.select().from(outbox).where(eq(outbox.organizationId, organizationId)).orderBy(outbox.seq)
    ).map((r) => parseEvent(r.envelope));
  const received = (organizationId: string) =>
    env.handle.db.select().from(receivedMessages).where(eq(receivedMessages.organizationId, organizationId));
  const source = async () => {
    const ctx = newOrg();
    const made = unwrap(await env.services.createSource(ctx, { name: 'Website' }));
    return { ctx, org: ctx.organizationId, key: made.writeKey, id: made.id };
  };
  const body = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('accepts every call type at its path and in a batch, each as a catalogued event', async () => {
    const { org, key, id } = await source();
    const ingest = env.services.ingest;
    const calls = {
      identify: { userId: 'u1', traits: { email: 'ada@example.com' } },
      track: { userId: 'u1', event: 'Signed Up', properties: { plan: 'pro' } },
      page: { anonymousId: 'a1', name: 'Home' },
      screen: { userId: 'u1', name: 'Feed' },
      group: { userId: 'u1', groupId: 'g1', traits: { name: 'Acme' } },
      alias: { userId: 'u1', previousId: 'a1' },
    };
    for (const [path, call] of Object.entries(calls))
      expect(await ingest(path, basic(key), body({ messageId: `m-${path}`, ...call }))).toEqual({
        status: 200,
        body: { success: true },
        accepted: 1,
      });
    const batch = await ingest(
      'batch',
      basic(key),
      body({
        batch: [
          { type: 'track', userId: 'u2', event: 'A' },
          { type: 'identify', anonymousId: 'a2' },
        ],
      }),
    );
    expect(batch).toMatchObject({ status: 200, accepted: 2 });
    const out = await events(org);
    expect(out.map((e) => e.type)).toEqual(Array(8).fill('integrations.segment-call.received'));
    expect(out.map((e) => (e.data as { call: string }).call)).toEqual([...Object.keys(calls), 'track', 'identify']);
    expect(out[1]).toMatchObject({
      subject: { type: 'segment-person', id: 'u1' },
      data: { sourceId: id, messageId: 'm-track', event: 'Signed Up', properties: { plan: 'pro' } },
    });
    // A call sent without a messageId gets one, so it is still applied once.
    expect((out[6]!.data as { messageId: string }).messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await received(org)).toHaveLength(8);
  });

  it('acknowledges a resent messageId without applying it again, within a batch too', async () => {
    const { org, key } = await source();
    const track = { type: 'track', messageId: 'dup-1', userId: 'u1', event: 'Paid' };
    expect(await env.services.ingest('track', basic(key), body(track))).toMatchObject({ status: 200, accepted: 1 });
    expect(await env.services.ingest('track', basic(key), body(track))).toMatchObject({ status: 200, accepted: 0 });
    const batch = await env.services.ingest(
      'batch',
      basic(key),
      body({ batch: [track, { ...track, messageId: 'dup-2' }, { ...track, messageId: 'dup-2' }] }),
    );
    expect(batch).toMatchObject({ status: 200, body: { success: true }, accepted: 1 });
    expect((await events(org)).map((e) => (e.data as { messageId: string }).messageId)).toEqual(['dup-1', 'dup-2']);
  });

  it('corrects the timestamp for the sender clock: received - (sentAt - timestamp)', async () => {
    const { org, key } = await source();
    const receivedAt = new Date('2026-03-01T12:00:00.000Z');
    // The sender's clock runs an hour fast: the event happened 5 s before it was sent.
    const sent = {
      batch: [{ type: 'track', userId: 'u', event: 'Late', timestamp: '2026-03-01T12:59:55.000Z' }],
      sentAt: '2026-03-01T13:00:00.000Z',
    };
    await env.services.ingest('batch', basic(key), body(sent), receivedAt);
    const [event] = await events(org);
    expect(event!.data).toMatchObject({ timestamp: '2026-03-01T11:59:55.000Z', receivedAt: receivedAt.toISOString() });
    expect(event!.occurredAt).toBe('2026-03-01T11:59:55.000Z');
  });

  it('refuses oversize and malformed bodies with 400 and writes nothing', async () => {
    const { org, key } = await source();
    const ingest = (path: string, raw: Buffer) => env.services.ingest(path, basic(key), raw);
    const big = 'x'.repeat(33 * 1024);
    const refusals = [
      [await ingest('track', body({ userId: 'u', event: 'E', properties: { big } })), 'message exceeds 32KB'],
      [
        await ingest(
          'batch',
          body({
            batch: Array.from({ length: 30 }, () => ({
              type: 'track',
              userId: 'u',
              event: big.slice(0, 200),
              properties: { p: big.slice(0, 20_000) },
            })),
          }),
        ),
        'batch exceeds 500KB',
      ],
      [
        await ingest(
          'batch',
          body({
            batch: [
              { type: 'track', userId: 'u', event: 'ok' },
              { type: 'track', userId: 'u', event: 'E', properties: { big } },
            ],
          }),
        ),
        'batch[1]: message exceeds 32KB',
      ],
      [await ingest('track', Buffer.from('{"userId": "u", "event": ')), 'Invalid JSON'],
      [await ingest('track', body({ event: 'E' })), 'userId or anonymousId is required'],
      [await ingest('track', body({ userId: 'u' })), 'event: is required for track'],
      [
        await ingest(
          'batch',
          body({
            batch: [
              { type: 'track', userId: 'u', event: 'ok' },
              { type: 'nope', userId: 'u' },
            ],
          }),
        ),
        'batch[1]: type',
      ],
      [await ingest('batch', body({ batch: 'no' })), 'batch: must be an array of calls'],
      [await ingest('identify', body([1, 2])), 'the body must be a JSON object'],
    ] as const;
    for (const [answer, message] of refusals) {
      expect(answer.status, message).toBe(400);
      expect(answer.body.success).toBe(false);
      expect(answer.body.message).toContain(message);
    }
    expect(await events(org)).toEqual([]);
    expect(await received(org)).toEqual([]);
  });

  it('answers 401 to an unknown, missing, rolled or deleted write key', async () => {
    const { ctx, org, key, id } = await source();
    const track = body({ userId: 'u', event: 'E' });
    expect((await env.services.ingest('track', basic('wk_nope'), track)).status).toBe(401);
    expect((await env.services.ingest('track', undefined, track)).status).toBe(401);
    // The write key in the body, as some clients send it, is accepted too.
    expect(
      (await env.services.ingest('track', undefined, body({ writeKey: key, userId: 'u', event: 'E' }))).status,
    ).toBe(200);
    const rolled = unwrap(await env.services.rollSourceWriteKey(ctx, { id }));
    // A fresh service: the old key was not cached as good.
    const { createIntegrationsServices } = await import('../src/app/services.ts');
    const fresh = createIntegrationsServices(env.services.deps);
    expect((await fresh.ingest('track', basic(key), track)).status).toBe(401);
    expect((await fresh.ingest('track', basic(rolled.writeKey), track)).status).toBe(200);
    unwrap(await env.services.deleteSource(ctx, { id }));
    expect(
      (await createIntegrationsServices(env.services.deps).ingest('track', basic(rolled.writeKey), track)).status,
    ).toBe(401);
    expect((await events(org)).length).toBe(2);
  });
});

describe.each(DATABASES)('the dedup window (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  beforeAll(async () => {
    env = await openIntegrations(open);
  });
  afterAll(() => env?.close());

  it('forgets messageIds older than a week, so only a call resent after that is applied again', async () => {
    const ctx = newOrg();
    const { writeKey, id } = unwrap(await env.services.createSource(ctx, { name: 'App' }));
    const call = (messageId: string) =>
      env.services.ingest(
        'track',
        basic(writeKey),
        Buffer.from(JSON.stringify({ messageId, userId: 'u', event: 'E' })),
      );
    await call('old');
    await call('recent');
    await env.handle.db
      .update(receivedMessages)
      .set({ receivedAt: new Date(Date.now() - DEDUP_WINDOW_MS - 60_000) })
      .where(and(eq(receivedMessages.sourceId, id), eq(receivedMessages.messageId, 'old')));
    expect(await forgetOldMessageIds(env.services.deps)).toBeGreaterThanOrEqual(1);
    expect((await call('old')).accepted).toBe(1);
    expect((await call('recent')).accepted).toBe(0);
  });
});
