// The transactional outbox against real PostgreSQL and a real Kafka broker.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type EventEnvelope, newId } from '@mauntic/kernel';
import { count, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaEventBus } from '../src/bus/kafka-event-bus.ts';
import { type DatabaseHandle, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/logger.ts';
import { applyOnce } from '../src/outbox/processed-events.ts';
import { OutboxRelay } from '../src/outbox/relay.ts';
import { TYPESCRIPT_NODE_ARGS, testServices } from '../src/testing/services.ts';
import { testContext } from './fixtures/outbox-schema.ts';

const run = promisify(execFile);
const logger = createLogger('test', 'silent');
const ctx = testContext('outbox_pg_test');
let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openDatabase({ url: testServices.databaseUrl });
  await ctx.create(handle);
});
afterAll(() => handle?.close());

const waitFor = async (check: () => Promise<boolean>, timeoutMs = 20_000) => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out waiting');
};

describe('transactional outbox (postgres + kafka)', () => {
  it('commits the event with the state change, and writes neither when the transaction fails', async () => {
    const org = newId();
    const kept = await ctx.createThing(handle.db, org, 'kept');
    await expect(ctx.createThing(handle.db, org, 'rolled-back', true)).rejects.toThrow('failed after writing');
    const rows = await handle.db.select().from(ctx.outbox).where(eq(ctx.outbox.organizationId, org));
    expect(rows.map((r) => r.id)).toEqual([kept.event.id]);
    const things = await handle.db.select().from(ctx.things).where(eq(ctx.things.organizationId, org));
    expect(things.map((t) => t.name)).toEqual(['kept']);
  });

  it('publishes an event whose relay was killed between publish and mark, and the consumer applies it once', async () => {
    const org = newId();
    // Committed while no relay runs: the "killed between commit and publish" case.
    const { id: thingId, event } = await ctx.createThing(handle.db, org, 'survivor');

    const deliveries: EventEnvelope[] = [];
    const consumer = new KafkaEventBus({
      brokers: testServices.kafkaBrokers,
      clientId: 'outbox-test',
      logger,
      topicPrefix: testServices.kafkaTopicPrefix,
    });
    const group = `outbox-test-${newId()}`;
    consumer.subscribe({
      group,
      contexts: ['identity'],
      handle: async (e) => {
        if (e.organizationId !== org) return;
        deliveries.push(e);
        await applyOnce(handle.db, ctx.processedEvents, group, e, async (tx) => {
          await tx
            .update(ctx.things)
            .set({ applied: sql`${ctx.things.applied} + 1` })
            .where(eq(ctx.things.id, e.subject.id));
        });
      },
    });
    await consumer.start();
    await consumer.ready();

    // A relay process publishes the batch and is SIGKILLed before it can mark the rows.
    const child = run(
      process.execPath,
      [
        ...TYPESCRIPT_NODE_ARGS,
        'test/fixtures/relay-then-die.ts',
        testServices.databaseUrl,
        'outbox_pg_test',
        testServices.kafkaBrokers.join(','),
      ],
      {
        cwd: new URL('..', import.meta.url).pathname,
      },
    );
    await expect(child).rejects.toMatchObject({ signal: 'SIGKILL' });
    const [unmarked] = await handle.db.select().from(ctx.outbox).where(eq(ctx.outbox.id, event.id));
    expect(unmarked?.publishedAt).toBeNull();
    expect(unmarked?.claimedUntil).not.toBeNull();

    // A restarted relay publishes it again once the dead relay's lease runs out, then marks it.
    const producer = new KafkaEventBus({
      brokers: testServices.kafkaBrokers,
      clientId: 'outbox-test-relay',
      logger,
      topicPrefix: testServices.kafkaTopicPrefix,
    });
    const relay = new OutboxRelay({
      handle,
      context: 'identity',
      table: ctx.outbox,
      bus: producer,
      logger,
      pollIntervalMs: 200,
    });
    await relay.start();
    await waitFor(async () => deliveries.length >= 2);
    await relay.stop();
    await producer.stop();
    await consumer.stop();

    expect(deliveries.every((d) => d.id === event.id)).toBe(true);
    const [marked] = await handle.db.select().from(ctx.outbox).where(eq(ctx.outbox.id, event.id));
    expect(marked?.publishedAt).not.toBeNull();
    const [thing] = await handle.db.select().from(ctx.things).where(eq(ctx.things.id, thingId));
    expect(thing?.applied).toBe(1);
    const [processed] = await handle.db
      .select({ n: count() })
      .from(ctx.processedEvents)
      .where(eq(ctx.processedEvents.eventId, event.id));
    expect(processed?.n).toBe(1);
  });

  it('two relays running at once publish each committed event exactly once between them', async () => {
    const org = newId();
    const published: string[] = [];
    const bus = {
      kind: 'local' as const,
      publish: async (events: EventEnvelope[]) => {
        for (const e of events) if (e.organizationId === org) published.push(e.id);
        await new Promise((r) => setTimeout(r, 5));
      },
      subscribe: () => {},
      start: async () => {},
      stop: async () => {},
      ping: async () => {},
    };
    const relays = [1, 2].map(
      () =>
        new OutboxRelay({
          handle,
          context: 'identity',
          table: ctx.outbox,
          bus,
          logger,
          batchSize: 7,
          pollIntervalMs: 50,
        }),
    );
    await Promise.all(relays.map((r) => r.start()));
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push((await ctx.createThing(handle.db, org, `t${i}`)).event.id);
    await waitFor(async () => published.length >= 60);
    await new Promise((r) => setTimeout(r, 300));
    await Promise.all(relays.map((r) => r.stop()));
    expect(published.sort()).toEqual(ids.sort());
  });
  it('publishes an event committed late, below rows a drain already claimed, and gives back what it claimed ahead when a publish fails', async () => {
    const org = newId();
    const published: string[] = [];
    let failOn = 0;
    let publishes = 0;
    const bus = {
      kind: 'local' as const,
      publish: async (events: EventEnvelope[]) => {
        if (++publishes === failOn) throw new Error('broker away');
        for (const e of events) if (e.organizationId === org) published.push(e.id);
      },
      subscribe: () => {},
      start: async () => {},
      stop: async () => {},
      ping: async () => {},
    };
    const relay = new OutboxRelay({ handle, context: 'identity', table: ctx.outbox, bus, logger, batchSize: 7 });
    await relay.drain(); // whatever earlier tests left

    // A transaction takes its seq first and commits after 30 newer events were claimed past it.
    let commit!: () => void;
    const held = new Promise<void>((resolve) => {
      commit = resolve;
    });
    let late = '';
    const lateTx = handle.db.transaction(async (tx) => {
      late = (await ctx.createThing(tx, org, 'late')).event.id;
      await held;
    });
    await waitFor(async () => late !== '');
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await ctx.createThing(handle.db, org, `t${i}`)).event.id);
    expect(await relay.drain()).toBe(30);
    commit();
    await lateTx;
    expect(await relay.drain()).toBe(1);
    expect(published).toEqual([...ids, late]);

    // 30 more; the third publish fails while the fourth batch is already claimed ahead.
    published.length = 0;
    publishes = 0;
    failOn = 3;
    const more: string[] = [];
    for (let i = 0; i < 30; i++) more.push((await ctx.createThing(handle.db, org, `u${i}`)).event.id);
    await expect(relay.drain()).rejects.toThrow('broker away');
    expect(published).toEqual(more.slice(0, 14));
    const held2 = await handle.rows<{ n: number }>(
      sql`select count(*)::int as n from ${ctx.outbox} where organization_id = ${org} and published_at is null and claimed_until is not null`,
    );
    expect(held2[0]?.n).toBe(0); // nothing stays claimed: the failed batch and the one ahead were given back
    expect(await relay.drain()).toBe(16);
    expect(published).toEqual(more);
  });
});
