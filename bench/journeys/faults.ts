// The `--faults` run of `pnpm bench journeys`: the journey executor's worker processes (the real
// main, workers/journey-executor/src/index.ts: Postgres, the Kafka bus, the journey outbox relay,
// health and metrics) walk contacts through the published journey while the services fail under
// them, once each at even points of progress, each waited out until the executors walk again:
// Postgres restarted (fast shutdown, as in a failover), the executors' connections terminated
// (pg_terminate_backend), the Kafka broker restarted, Redis restarted (the executor does not use
// Redis today: the fault is there so that a worker that starts to is covered). Contacts enter at a
// steady rate over ENTRY_SECONDS (retried while Postgres is away: the journey enters each contact
// once, so a retry enters nobody twice), so every fault lands while runs are being walked; no
// slice enters past a fault's point before that fault was injected, so a quick run cannot end
// before its faults. Meanwhile a consumer on Kafka records, per send request and per step event,
// the distinct events that reached it.
//
// The services restarted are the ones the environment names (scripts/services.sh, with
// MAUNTIC_SERVICES_DIR, MAUNTIC_PG_PORT, MAUNTIC_REDIS_PORT, MAUNTIC_KAFKA_PORT): point it at
// private instances when anyone else uses the default ones.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EntryTarget, enterContacts } from '@mauntic/journey/executor';
import { catalogue, newId } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, KafkaEventBus, sql } from '@mauntic/platform';
import {
  countRecovered,
  metricOf,
  serviceFaults,
  startWorkers,
  untilTrue,
  type Worker,
  type Workers,
} from '../lib/faults.ts';

const WORKER = fileURLToPath(new URL('../../workers/journey-executor/src/index.ts', import.meta.url));
const processes = Number(process.env.BENCH_EXECUTORS ?? 2);
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
/** How long contacts keep entering: the faults are spread over it. */
const ENTRY_SECONDS = Number(process.env.BENCH_ENTRY_SECONDS ?? 40);
/** The executors' name in pg_stat_activity (openDatabaseFromEnv in the worker's main). */
const EXECUTOR_APPLICATION = 'journey-executor';
/** The executor's counter of steps walked. */
const WALKED_METRIC = 'mauntic_journey_transitions_total';
/** How long one fault may take to settle, and the run to finish, before the run reports what it has. */
const SETTLE_MS = 120_000;
// The small run (the test command's) gives up sooner, so a stuck run cannot hold CI for half an hour.
const DEADLINE_MS = (process.env.BENCH_SIZE === 'small' ? 8 : 30) * 60_000;

export interface JourneyFaultRun {
  handle: DatabaseHandle;
  target: EntryTarget;
  /** The contacts to enter, in order. */
  contacts: string[];
  /** Steps each run walks. */
  steps: number;
}

export interface JourneyFaultResult {
  seconds: number;
  /** The faults injected, and how many there are to inject. */
  faults: string[];
  planned: number;
  /** Faults after which the executors did not walk again within SETTLE_MS. */
  unsettled: string[];
  executors: number;
  /** Executors that never exited, answer /readyz and walked steps after the last fault settled. */
  executorsRecovered: number;
  /** Steps executed twice, messages requested twice (in the outbox or on Kafka), contacts entered twice. */
  duplicates: number;
  /** Runs not ended, steps not logged, sends never requested or never on Kafka. */
  lost: number;
  detail: Record<string, number>;
}

export async function runWithFaults({ handle, target, contacts, steps }: JourneyFaultRun): Promise<JourneyFaultResult> {
  const size = contacts.length;
  const expected = size * steps;
  const org = target.organizationId;
  const logDir = mkdtempSync(join(tmpdir(), 'bench-journey-faults-'));
  const topicPrefix = `mauntic-bench-jfaults-${newId().slice(-12)}`;
  const bus = await startEventCount(org, topicPrefix);
  const workers = await startExecutors(logDir, size, topicPrefix);
  const list = serviceFaults(handle, { application: EXECUTOR_APPLICATION, label: 'executor' });

  const logged = () =>
    count(handle, sql`select count(*)::int as n from journey.step_log where journey_id = ${target.journeyId}`);
  const t0 = performance.now();
  const faults: string[] = [];
  const unsettled: string[] = [];
  let entered = 0;
  let before: (number | null)[] = [];
  /** The fault last injected, until the executors walk again and events reach Kafka after it. */
  let settling: { name: string; steps: number; events: number; since: number } | null = null;
  const share = (k: number) => (k + 1) / (list.length + 1);
  const deadline = Date.now() + DEADLINE_MS;
  while (Date.now() < deadline) {
    // Contacts due to have entered by now, but none past a fault's point plus 5% before it is in,
    // nor plus 10% before it settled (so it settles on new work), and the last 10% only once the
    // last fault settled: the executors walk them after every fault.
    const due = Math.ceil((size * (performance.now() - t0)) / 1000 / ENTRY_SECONDS);
    const gate = settling ? faults.length - 1 : faults.length;
    const cap = gate < list.length ? Math.ceil(size * (share(gate) + (settling ? 0.1 : 0.05))) : size;
    const upTo = Math.min(size, due, cap);
    // The database restarts under this loop too: what failed is tried again on the next turn.
    if (upTo > entered && (await enter(handle, target, contacts.slice(entered, upTo)).catch(() => false)))
      entered = upTo;
    const done = await logged().catch(() => null);
    if (settling && done !== null && done > settling.steps && bus.received() > settling.events) {
      if (faults.length === list.length) before = await Promise.all(workers.list.map(walkedBy));
      settling = null;
    } else if (settling && Date.now() - settling.since > SETTLE_MS) {
      process.stderr.write(
        `[bench journeys --faults] ${settling.name} not settled after ${SETTLE_MS / 1000} s: steps ${settling.steps} -> ${done}, events ${settling.events} -> ${bus.received()}\n`,
      );
      unsettled.push(settling.name);
      settling = null;
    }
    const next = list[faults.length];
    if (!settling && next && done !== null && done >= share(faults.length) * expected) {
      process.stderr.write(`[bench journeys --faults] ${next.name} at ${done} of ${expected} steps\n`);
      const events = bus.received();
      await next.inject();
      faults.push(next.name);
      settling = { name: next.name, steps: done, events, since: Date.now() };
    }
    if (workers.list.some((w) => w.exited)) {
      process.stderr.write('[bench journeys --faults] an executor exited; stopping the run\n');
      break;
    }
    const finished = entered === size && faults.length === list.length && !settling;
    if (finished && (await active(handle, target.journeyId)) === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const seconds = (performance.now() - t0) / 1000;
  const executorsRecovered = await countRecovered(workers, before, WALKED_METRIC, {
    bench: 'journeys',
    label: 'executor',
    dir: logDir,
  });
  // Every send request the outbox holds reaches Kafka (the relay lives in the executors): waited
  // for while events keep arriving (at full size the relay is still draining when the walk ends).
  let seen = -1;
  while (Date.now() < deadline) {
    const arrived = bus.received();
    if (arrived === seen) break;
    seen = arrived;
    if (await untilTrue(async () => (await sendKeys(handle, org).catch(() => -1)) <= bus.sendKeys(), SETTLE_MS)) break;
  }
  await workers.stop();
  await bus.stop();
  const counts = await countOutcome(handle, target, bus, expected, size);
  const ok = executorsRecovered === processes && faults.length === list.length && unsettled.length === 0;
  if (ok && counts.duplicates + counts.lost === 0) rmSync(logDir, { recursive: true, force: true });
  else process.stderr.write(`[bench journeys --faults] executors' logs in ${logDir}\n`);
  return {
    seconds,
    faults,
    planned: list.length,
    unsettled,
    executors: processes,
    executorsRecovered,
    ...counts,
  };
}

async function enter(handle: DatabaseHandle, target: EntryTarget, ids: string[]): Promise<boolean> {
  await enterContacts(handle.db, {
    target,
    contacts: sql`select unnest(${`{${ids.join(',')}}`}::uuid[]) as contact_id`,
    trigger: 'api',
    data: {},
    now: new Date(),
    correlationId: 'bench-faults',
  });
  return true;
}

async function countOutcome(
  handle: DatabaseHandle,
  target: EntryTarget,
  bus: EventCount,
  expected: number,
  size: number,
) {
  const org = target.organizationId;
  const [row] = await handle.rows<Record<string, number>>(sql`
    select
      (select count(*)::int from journey.step_log where journey_id = ${target.journeyId}) as steps_logged,
      (select count(*)::int from journey.runs where journey_id = ${target.journeyId} and state = 'exited') as runs_exited,
      (select count(*)::int from journey.runs where journey_id = ${target.journeyId}) as runs,
      (select count(distinct contact_id)::int from journey.runs where journey_id = ${target.journeyId}) as contacts,
      (select count(*)::int from journey.outbox where organization_id = ${org} and type = 'delivery.message.requested') as sends,
      (select count(*)::int from journey.outbox where organization_id = ${org} and type = 'journey.step.completed') as step_events,
      (select count(distinct (envelope::jsonb -> 'data' ->> 'runId') || (envelope::jsonb -> 'data' ->> 'stepId')
         || (envelope::jsonb -> 'data' ->> 'visit'))::int
       from journey.outbox where organization_id = ${org} and type = 'journey.step.completed') as step_event_keys`);
  const c = row!;
  const sendKeysInOutbox = await sendKeys(handle, org);
  const detail = {
    steps_logged: c.steps_logged!,
    runs_exited: c.runs_exited!,
    sends_requested: c.sends!,
    sends_on_kafka: bus.sendKeys(),
    sends_requested_twice_on_kafka: bus.sendKeysTwice(),
    event_redeliveries: bus.redeliveries(),
  };
  const duplicates =
    c.sends! - sendKeysInOutbox + (c.step_events! - c.step_event_keys!) + bus.sendKeysTwice() + (c.runs! - c.contacts!);
  const lost =
    size -
    c.runs_exited! +
    Math.max(0, expected - c.steps_logged!) +
    (size - sendKeysInOutbox) +
    Math.max(0, sendKeysInOutbox - bus.sendKeys());
  return { duplicates, lost, detail };
}

async function sendKeys(handle: DatabaseHandle, org: string): Promise<number> {
  return count(
    handle,
    sql`select count(distinct envelope::jsonb -> 'data' ->> 'idempotencyKey')::int as n
      from journey.outbox where organization_id = ${org} and type = 'delivery.message.requested'`,
  );
}

async function count(h: DatabaseHandle, query: ReturnType<typeof sql>): Promise<number> {
  return (await h.rows<{ n: number }>(query))[0]!.n;
}

function active(h: DatabaseHandle, journeyId: string): Promise<number> {
  return count(
    h,
    sql`select count(*)::int as n from journey.runs where journey_id = ${journeyId} and state in ('ready', 'waiting')`,
  ).catch(() => -1);
}

// ------------------------------------------------------------------------------- the workers

/** The executor workers (bench/lib/faults.ts). */
function startExecutors(dir: string, size: number, topicPrefix: string): Promise<Workers> {
  return startWorkers({
    main: WORKER,
    processes,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      KAFKA_BROKERS: brokers.join(','),
      KAFKA_TOPIC_PREFIX: topicPrefix,
      // Batches small enough that every executor takes part in the walk after the last fault.
      EXECUTOR_BATCH_SIZE: String(Math.min(500, Math.max(20, Math.floor(size / 100)))),
      EXECUTOR_SWEEP_MS: '100',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    },
    ownerVariable: 'EXECUTOR_OWNER',
    runningLine: 'journey executor running',
    dir,
    label: 'executor',
  });
}

/** Steps the worker walked so far, or null if it does not answer. */
const walkedBy = (worker: Worker) => metricOf(worker, WALKED_METRIC);

// ------------------------------------------------------------------------------ the events

interface EventCount {
  /** Events of the run that reached the consumer, redeliveries included. */
  received(): number;
  /** Send requests (idempotency keys) that reached it. */
  sendKeys(): number;
  /** Send requests that reached it as two or more distinct events: a message requested twice. */
  sendKeysTwice(): number;
  /** Deliveries of an event already received (at-least-once at work, not a duplicate). */
  redeliveries(): number;
  stop(): Promise<void>;
}

/** A consumer of the journey's events that records, per send request, the distinct events carrying it. */
async function startEventCount(org: string, topicPrefix: string): Promise<EventCount> {
  const bus = new KafkaEventBus({
    brokers,
    clientId: 'bench-journey-faults',
    topicPrefix,
    logger: createLogger('bench-journey-faults', 'silent'),
  });
  const eventsBySend = new Map<string, Set<string>>();
  const seen = new Set<string>();
  let received = 0;
  bus.subscribe({
    group: `bench-journey-faults-${newId()}`,
    // Send requests go onto delivery's topic, the journey's own events onto its.
    contexts: ['journey', 'delivery'],
    types: [catalogue.delivery.messageRequested.type, catalogue.journey.stepCompleted.type],
    handle: async (event) => {
      if (event.organizationId !== org) return;
      received++;
      seen.add(event.id);
      if (event.type !== catalogue.delivery.messageRequested.type) return;
      const { idempotencyKey } = catalogue.delivery.messageRequested.data.parse(event.data);
      const ids = eventsBySend.get(idempotencyKey) ?? new Set<string>();
      ids.add(event.id);
      eventsBySend.set(idempotencyKey, ids);
    },
  });
  await bus.start();
  return {
    received: () => received,
    sendKeys: () => eventsBySend.size,
    sendKeysTwice: () => [...eventsBySend.values()].filter((ids) => ids.size > 1).length,
    redeliveries: () => received - seen.size,
    stop: () => bus.stop(),
  };
}
