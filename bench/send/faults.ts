// The `--faults` run of `pnpm bench send`: the delivery engine's worker processes (the real main,
// workers/delivery-engine/src/index.ts: Postgres, Kafka wake-ups, the provider's rate limit in
// Redis, health and metrics) send `count` messages into a counting sink while the services fail
// under them, once each at even points of progress: Postgres restarted (fast shutdown, as in a
// failover), the engines' connections terminated (pg_terminate_backend), the Kafka broker
// restarted, Redis restarted. Meanwhile the outbox relay publishes delivery's events and an
// idempotent consumer (the processed-events record and the effect in one statement) applies every
// `delivery.message.sent` once.
//
// The services restarted are the ones the environment names (scripts/services.sh, with
// MAUNTIC_SERVICES_DIR, MAUNTIC_PG_PORT, MAUNTIC_REDIS_PORT, MAUNTIC_KAFKA_PORT): point it at
// private instances when anyone else uses the default ones.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { outbox } from '@mauntic/delivery/engine';
import { catalogue, newId } from '@mauntic/kernel';
import { createLogger, EMBEDDED_OUTBOUND_ALLOWED, KafkaEventBus, OutboxRelay, sql } from '@mauntic/platform';
import { countRecovered, metricOf, serviceFaults, startWorkers, untilTrue, type Workers } from '../lib/faults.ts';
import {
  type BenchRun,
  databaseUrl,
  enqueueAudience,
  PUBLIC_BASE_URL,
  reportAndRemove,
  setUpRun,
} from './engine-run.ts';

const WORKER = fileURLToPath(new URL('../../workers/delivery-engine/src/index.ts', import.meta.url));
const processes = Number(process.env.BENCH_ENGINE_PROCESSES ?? 2);
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const TOPIC_PREFIX = 'mauntic-bench-faults';
/** The engines' name in pg_stat_activity (openDatabaseFromEnv in the worker's main). */
const ENGINE_APPLICATION = 'delivery-engine';
/** The engine's counter of messages settled. */
const SETTLED_METRIC = 'mauntic_delivery_messages_total';
/** How long a run may take before it stops waiting and reports what it has. */
const DEADLINE_MS = 30 * 60_000;

export interface FaultRunResult {
  seconds: number;
  /** The faults injected, and how many there are to inject: a run that ends first misses some. */
  faults: string[];
  planned: number;
  engines: number;
  /** Engines that never exited, answer /readyz and settled messages after the last fault. */
  enginesRecovered: number;
  /** Messages recorded `sent` whose delivery.message.sent event the consumer never applied. */
  eventsLost: number;
  /** Messages whose sent event the consumer applied more than once. */
  eventsAppliedTwice: number;
  /** Deliveries to the consumer beyond the first of each event (at-least-once at work). */
  eventRedeliveries: number;
}

export async function runWithFaults(count: number, sinkUrl: string): Promise<FaultRunResult> {
  // Spread over 90 s at least (the limit lives in Redis), so each fault lands mid-run: injecting
  // one (a Kafka restart on a busy machine) can take 20 s and more while the engines keep sending,
  // and at 40 s the run once ended before the last fault.
  const bench = await setUpRun(count, new URL(sinkUrl), Math.min(100_000, Math.max(10, Math.ceil(count / 90))));
  const journalDir = mkdtempSync(join(tmpdir(), 'bench-faults-'));
  const events = await startEventFlow(bench);
  const workers = await startEngines(bench, journalDir, count);

  const t0 = performance.now();
  await enqueueAudience(bench);
  const { faults, before } = await untilSettledWithFaults(bench, count, workers);
  const seconds = (performance.now() - t0) / 1000;

  const enginesRecovered = await countRecovered(workers, before, SETTLED_METRIC, {
    bench: 'send',
    label: 'engine',
    dir: journalDir,
  });
  await workers.stop();
  const consumed = await events.finish();
  await reportAndRemove(bench.handle, bench.org);
  await bench.handle.close();
  const planned = faultList(bench).length;
  // The engines' logs stay when something went wrong.
  if (enginesRecovered === processes && faults.length === planned) rmSync(journalDir, { recursive: true, force: true });
  return { seconds, faults, planned, engines: processes, enginesRecovered, ...consumed };
}

// ------------------------------------------------------------------------------- the workers

/**
 * The engine workers (bench/lib/faults.ts). Small batches, so that the work left after the last
 * fault is shared among them.
 */
function startEngines(bench: BenchRun, dir: string, count: number): Promise<Workers> {
  return startWorkers({
    main: WORKER,
    processes,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC_PREFIX: TOPIC_PREFIX,
      REDIS_URL: redisUrl,
      DELIVERY_ENCRYPTION_KEY: bench.keys.encryptionKey.toString('base64'),
      TRACKING_SECRET: bench.keys.trackingSecret,
      PUBLIC_BASE_URL,
      // The workers connect to the sink on loopback, as the sender's validation allowed.
      OUTBOUND_ALLOWED_HOSTS: EMBEDDED_OUTBOUND_ALLOWED,
      ENGINE_JOURNAL_DIR: join(dir, 'journal'),
      ENGINE_BATCH_SIZE: String(Math.min(500, Math.max(20, Math.floor(count / 200)))),
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    ownerVariable: 'ENGINE_OWNER',
    runningLine: 'delivery engine running',
    dir,
    label: 'engine',
  });
}

/** The faults, in the order they are injected (bench/lib/faults.ts). */
const faultList = (bench: BenchRun) =>
  serviceFaults(bench.handle, { application: ENGINE_APPLICATION, label: 'engine' });

/**
 * Waits until no message is queued or sending, injecting each fault once the engines have
 * settled its share of the run. Returns the faults injected and what each engine had settled
 * after the last one.
 */
async function untilSettledWithFaults(bench: BenchRun, count: number, workers: Workers) {
  const { handle, org } = bench;
  const open = async () =>
    (
      await handle.rows<{ n: number }>(sql`
        select ((select count(*) from delivery.messages where status = 'queued' and organization_id = ${org})
             + (select count(*) from delivery.messages where status = 'sending' and organization_id = ${org}))::int as n`)
    )[0]!.n;
  const list = faultList(bench);
  const faults: string[] = [];
  let before: (number | null)[] = [];
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    // The database restarts under this loop too: a failed look is looked at again.
    const left = await open().catch(() => null);
    if (left === 0) break;
    const next = list[faults.length];
    if (next && left !== null && count - left >= ((faults.length + 1) * count) / (list.length + 1)) {
      process.stderr.write(`[bench send --faults] ${next.name} at ${count - left} settled\n`);
      await next.inject();
      faults.push(next.name);
      if (faults.length === list.length)
        before = await Promise.all(workers.list.map((w) => metricOf(w, SETTLED_METRIC)));
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { faults, before };
}

// ------------------------------------------------------------------------------ the events

/**
 * Delivery's outbox relay and a consumer of `delivery.message.sent` that records, per message, how
 * many times it applied its event: once per event id (processed_events), in one statement.
 */
async function startEventFlow(bench: BenchRun) {
  const { handle, org } = bench;
  const logger = createLogger('bench-faults', 'silent');
  await handle.script(`
    create schema if not exists bench_faults;
    create table if not exists bench_faults.processed_events (
      consumer text not null, event_id uuid not null, organization_id uuid not null,
      primary key (consumer, event_id));
    create table if not exists bench_faults.applied (
      message_id uuid primary key, organization_id uuid not null, times int not null);`);
  const group = `bench-faults-consumer-${newId()}`;
  let deliveries = 0;
  const bus = new KafkaEventBus({ brokers, clientId: 'bench-faults', topicPrefix: TOPIC_PREFIX, logger });
  bus.subscribe({
    group,
    contexts: ['delivery'],
    types: [catalogue.delivery.messageSent.type],
    handle: async (event) => {
      if (event.organizationId !== org) return;
      deliveries++;
      const { messageId } = catalogue.delivery.messageSent.data.parse(event.data);
      await handle.rows(sql`
        with first as (
          insert into bench_faults.processed_events (consumer, event_id, organization_id)
          values (${group}, ${event.id}, ${org}) on conflict do nothing returning 1)
        insert into bench_faults.applied (message_id, organization_id, times)
        select ${messageId}, ${org}, 1 from first
        on conflict (message_id) do update set times = bench_faults.applied.times + 1`);
    },
  });
  await bus.start();
  const relay = new OutboxRelay({ handle, context: 'delivery', table: outbox, bus, logger, pollIntervalMs: 200 });
  await relay.start();

  return {
    /** Waits (up to two minutes) for every sent message's event, then stops and counts. */
    async finish() {
      const counts = async () =>
        (
          await handle.rows<{ sent: number; applied: number; twice: number; events: number }>(sql`
            select (select count(*)::int from delivery.messages where organization_id = ${org} and status = 'sent') as sent,
                   (select count(*)::int from bench_faults.applied where organization_id = ${org}) as applied,
                   (select count(*)::int from bench_faults.applied where organization_id = ${org} and times > 1) as twice,
                   (select count(*)::int from bench_faults.processed_events where organization_id = ${org}) as events`)
        )[0]!;
      await untilTrue(async () => {
        const c = await counts().catch(() => null);
        return c !== null && c.applied >= c.sent;
      }, 120_000);
      await relay.stop();
      await bus.stop();
      const c = await counts();
      await handle.rows(sql`delete from bench_faults.applied where organization_id = ${org}`);
      await handle.rows(sql`delete from bench_faults.processed_events where organization_id = ${org}`);
      return {
        eventsLost: Math.max(0, c.sent - c.applied),
        eventsAppliedTwice: c.twice,
        eventRedeliveries: deliveries - c.events,
      };
    },
  };
}
