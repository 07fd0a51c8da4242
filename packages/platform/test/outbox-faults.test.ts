// The outbox relay when the broker goes away: on a Kafka broker of this test's own (the one other
// suites use is never stopped), an event committed meanwhile stays unpublished and goes out once
// the broker is back, before the newer events of its subject.
import { type EventEnvelope, newId } from '@mauntic/kernel';
import { eq, inArray } from 'drizzle-orm';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaEventBus } from '../src/bus/kafka-event-bus.ts';
import { type DatabaseHandle, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/logger.ts';
import { OutboxRelay } from '../src/outbox/relay.ts';
import { testServices } from '../src/testing/services.ts';
import { testContext } from './fixtures/outbox-schema.ts';
import { type PrivateKafka, startPrivateKafka } from './fixtures/private-kafka.ts';

const ctx = testContext('outbox_faults_test');
const topicPrefix = `outbox-faults-${newId()}`;
let handle: DatabaseHandle;
let kafka: PrivateKafka;

beforeAll(async () => {
  handle = await openDatabase({ url: testServices.databaseUrl });
  await ctx.create(handle);
  kafka = await startPrivateKafka();
});
afterAll(async () => {
  await kafka?.close();
  await handle?.close();
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('the outbox relay when the broker goes away', () => {
  it('keeps an event unpublished while the broker is down, and publishes it before newer events of its subject once it is back', async () => {
    const org = newId();
    // The relay's error lines, to know when a publish has failed.
    const failures: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => void failures.push(line) });
    const producer = new KafkaEventBus({ brokers: kafka.brokers, clientId: 'relay', topicPrefix, logger });
    const relay = new OutboxRelay({
      handle,
      context: 'identity',
      table: ctx.outbox,
      bus: producer,
      logger,
      pollIntervalMs: 100,
    });
    await relay.start();
    const published = async (ids: string[]) =>
      (await handle.db.select().from(ctx.outbox).where(inArray(ctx.outbox.id, ids))).every(
        (r) => r.publishedAt !== null,
      );

    // A first event goes out while the broker is up: the producer is connected, the topic exists.
    const { id: thingId, event: first } = await ctx.createThing(handle.db, org, 'first');
    await until(() => published([first.id]), 'the first event to be published');

    await kafka.stop();
    const second = await ctx.touchThing(handle.db, org, thingId, 'second');
    await until(() => failures.some((line) => line.includes('outbox relay failed')), 'a publish to fail');
    const [row] = await handle.db.select().from(ctx.outbox).where(eq(ctx.outbox.id, second.id));
    expect(row?.publishedAt).toBeNull();

    // Back, and a newer event about the same subject right away.
    await kafka.start();
    const third = await ctx.touchThing(handle.db, org, thingId, 'third');
    await until(() => published([second.id, third.id]), 'the events to be published');
    await relay.stop();
    await producer.stop();

    // What the topic holds about the subject, in its partition's order.
    const seen: EventEnvelope[] = [];
    const consumer = new KafkaEventBus({
      brokers: kafka.brokers,
      clientId: 'reader',
      topicPrefix,
      logger: createLogger('reader', 'silent'),
    });
    consumer.subscribe({
      group: `reader-${newId()}`,
      contexts: ['identity'],
      handle: async (event) => {
        if (event.organizationId === org) seen.push(event);
      },
    });
    await consumer.start();
    await until(() => new Set(seen.map((e) => e.id)).size >= 3, 'the consumer to read the three events');
    await consumer.stop();
    const order = [...new Map(seen.map((e) => [e.id, e])).keys()];
    expect(order).toEqual([first.id, second.id, third.id]);
  });
});
