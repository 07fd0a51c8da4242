// The Segment-compatible endpoint with Kafka (cluster mode): calls go straight to the broker, not
// through the outbox, each as an event whose id is named by its source, messageId and timestamp; the
// messageIds are recorded only once the events are on Kafka; a resent messageId is acknowledged
// and not published again; and when the broker cannot take them, the answer is 503 with nothing
// recorded, and the client's retry publishes the very same event ids.
import { type EventEnvelope, namedId, newId, unwrap } from '@mauntic/kernel';
import { createLogger, KafkaEventBus, openDatabase, runMigrations } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIntegrationsServices, type IntegrationsServices } from '../src/app/services.ts';
import { outbox, receivedMessages } from '../src/db/schema.ts';
import { integrationsModule } from '../src/module.ts';
import { basic, encryptionKey, LOOPBACK_ALLOWED, logger, newOrg } from './harness.ts';

/** The time the sender stamps on its calls: the same in every retry, so part of each event id. */
const T = '2026-12-01T10:00:00.000Z';
const at = new Date(T);

const kafka = () =>
  new KafkaEventBus({
    brokers: testServices.kafkaBrokers,
    clientId: `ingest-test-${newId().slice(-6)}`,
    logger: createLogger('ingest-test', 'silent'),
    topicPrefix: testServices.kafkaTopicPrefix,
  });

describe('Segment-compatible ingestion straight to Kafka', () => {
  const handle = openDatabase({ url: testServices.databaseUrl, maxConnections: 5 });
  const producer = kafka();
  const consumer = kafka();
  const seen: EventEnvelope[] = [];
  let services: IntegrationsServices;

  beforeAll(async () => {
    const db = await handle;
    await runMigrations(db, integrationsModule().migrations);
    services = createIntegrationsServices({
      handle: db,
      logger,
      encryptionKey,
      outbound: LOOPBACK_ALLOWED,
      ingestBus: producer,
    });
    consumer.subscribe({
      group: `ingest-test-${newId()}`,
      contexts: ['integrations'],
      handle: async (event) => {
        seen.push(event);
      },
    });
    await consumer.start();
    await consumer.ready();
  }, 60_000);
  afterAll(async () => {
    await consumer.stop();
    await producer.stop();
    await (await handle).close();
  });

  const eventually = async (check: () => void, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        return check();
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const body = (value: unknown) => Buffer.from(JSON.stringify(value));

  it('publishes each new call once, named by source and messageId, records its messageId, and writes no outbox row', async () => {
    const db = await handle;
    const ctx = newOrg();
    const source = unwrap(await services.createSource(ctx, { name: 'App' }));
    const other = unwrap(await services.createSource(ctx, { name: 'Site' }));
    const ofOrg = () => seen.filter((e) => e.organizationId === ctx.organizationId);

    const first = await services.ingest(
      'batch',
      basic(source.writeKey),
      body({
        batch: [
          { type: 'track', userId: 'u1', event: 'A', messageId: 'm1', timestamp: T },
          { type: 'identify', userId: 'u1', traits: { email: 'ada@example.com' }, messageId: 'm2', timestamp: T },
          { type: 'track', userId: 'u1', event: 'A again', messageId: 'm1', timestamp: T },
        ],
      }),
    );
    expect(first).toEqual({ status: 200, body: { success: true }, accepted: 2 });
    // The same messageId from another source is another call.
    expect(
      await services.ingest(
        'track',
        basic(other.writeKey),
        body({ userId: 'u1', event: 'A', messageId: 'm1', timestamp: T }),
      ),
    ).toMatchObject({ status: 200, accepted: 1 });
    // Resent: acknowledged, not published again; only m3 is new.
    const again = await services.ingest(
      'batch',
      basic(source.writeKey),
      body({
        batch: [
          { type: 'track', userId: 'u1', event: 'A', messageId: 'm1', timestamp: T },
          { type: 'track', userId: 'u1', event: 'B', messageId: 'm3', timestamp: T },
        ],
      }),
    );
    expect(again).toMatchObject({ status: 200, accepted: 1 });

    await eventually(() => expect(ofOrg()).toHaveLength(4));
    await new Promise((resolve) => setTimeout(resolve, 500)); // nothing else comes
    expect(ofOrg().map((e) => [e.id, (e.data as { event?: string }).event ?? null])).toEqual([
      [namedId(source.id, 'm1', at), 'A'],
      [namedId(source.id, 'm2', at), null],
      [namedId(other.id, 'm1', at), 'A'],
      [namedId(source.id, 'm3', at), 'B'],
    ]);
    const recorded = await db.db
      .select({ messageId: receivedMessages.messageId })
      .from(receivedMessages)
      .where(eq(receivedMessages.organizationId, ctx.organizationId));
    expect(recorded.map((r) => r.messageId).sort()).toEqual(['m1', 'm1', 'm2', 'm3']);
    expect(await db.db.select().from(outbox).where(eq(outbox.organizationId, ctx.organizationId))).toEqual([]);
  });

  it('answers 503 and records nothing when the broker cannot take the calls; the retry publishes the same event ids', async () => {
    const db = await handle;
    const ctx = newOrg();
    const source = unwrap(await services.createSource(ctx, { name: 'App' }));
    const stopped = kafka();
    await stopped.stop(); // a bus that refuses to publish
    const failing = createIntegrationsServices({ handle: db, logger, encryptionKey, ingestBus: stopped });
    const calls = body({
      batch: [
        { type: 'track', userId: 'u9', event: 'Paid', messageId: 'p1', timestamp: T },
        { type: 'track', userId: 'u9', event: 'Shipped', messageId: 'p2', timestamp: T },
      ],
    });
    expect(await failing.ingest('batch', basic(source.writeKey), calls)).toEqual({
      status: 503,
      body: { success: false, message: 'Try again' },
      accepted: 0,
    });
    expect(
      await db.db.select().from(receivedMessages).where(eq(receivedMessages.organizationId, ctx.organizationId)),
    ).toEqual([]);

    expect(await services.ingest('batch', basic(source.writeKey), calls)).toMatchObject({ status: 200, accepted: 2 });
    await eventually(() =>
      expect(seen.filter((e) => e.organizationId === ctx.organizationId).map((e) => e.id)).toEqual([
        namedId(source.id, 'p1', at),
        namedId(source.id, 'p2', at),
      ]),
    );
  });
});
