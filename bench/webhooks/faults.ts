// The `--kill` and `--faults` runs of `pnpm bench webhooks`: the webhook dispatcher's worker
// processes (the real main, workers/webhook-dispatcher/src/index.ts: Postgres, the Kafka consumer
// that records deliveries, the claim loop that sends them, health and metrics) deliver to the
// local receiver, which counts the POSTs of each event.
// - --kill: deliveries recorded up front; every dispatcher is killed with SIGKILL at a quarter and
//   at half of them and started again.
// - --faults: events published to Kafka at a steady rate over ENTRY_SECONDS while Postgres is
//   restarted, the dispatchers' connections terminated, the Kafka broker restarted and Redis
//   restarted (the dispatcher does not use Redis today: the fault is there so that a dispatcher
//   that starts to is covered), each at an even point of the publishing and waited out until
//   deliveries reach the receiver again; the dispatchers are never restarted.
// Duplicates are bounded by design: a delivery is sent at least once, and sent again only when the
// process that POSTed it could not record the answer (killed, or its database gone) — its lease
// then runs out. So a kill repeats at most what was in flight then: the endpoint's limit or the
// dispatchers' capacity, whichever is smaller. A database outage repeats nothing: the answer is
// recorded once the database is back, within the lease (webhook-dispatcher.ts).
//
// The services restarted are the ones the environment names (bench/lib/faults.ts): point it at
// private instances when anyone else uses the default ones.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type EventEnvelope, newId } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, KafkaEventBus, sql } from '@mauntic/platform';
import { countRecovered, metricOf, serviceFaults, startWorkers, untilTrue, type Workers } from '../lib/faults.ts';
import { report, small } from '../lib/report.ts';
import { startReceiver } from './receiver.ts';

const WORKER = fileURLToPath(new URL('../../workers/webhook-dispatcher/src/index.ts', import.meta.url));
const processes = Number(process.env.BENCH_DISPATCHERS ?? 2);
/** WEBHOOK_CAPACITY of each dispatcher process. */
const CAPACITY = 16;
/** The endpoint's max_concurrency (the most it may have). */
const ENDPOINT_LIMIT = 50;
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
/** The dispatchers' name in pg_stat_activity (openDatabaseFromEnv in the worker's main). */
const DISPATCHER_APPLICATION = 'webhook-dispatcher';
/** The dispatcher's counter of POSTs made (workers/webhook-dispatcher/src/metrics.ts). */
const ATTEMPTS_METRIC = 'mauntic_webhook_attempts_total';
/** How long one fault may take to settle before the run notes it and moves on. */
const SETTLE_MS = 120_000;
// The small run (the test command's) gives up sooner, so a stuck run cannot hold CI for long.
const DEADLINE_MS = (small ? 8 : 30) * 60_000;

export interface WebhookRun {
  handle: DatabaseHandle;
  /** A new endpoint of the benchmark's organization, for every crm.segment.entered event. */
  endpointFor: (url: string) => Promise<string>;
  newEvents: (n: number) => EventEnvelope[];
  /** Records the events' deliveries, as the dispatcher's consumer does. */
  record: (events: EventEnvelope[]) => Promise<void>;
  databaseUrl: string;
  encryptionKey: string;
}

const workerEnv = (run: WebhookRun, topicPrefix: string) => ({
  ...process.env,
  DATABASE_URL: run.databaseUrl,
  KAFKA_BROKERS: brokers.join(','),
  KAFKA_TOPIC_PREFIX: topicPrefix,
  INTEGRATIONS_ENCRYPTION_KEY: run.encryptionKey,
  OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
  WEBHOOK_CAPACITY: String(CAPACITY),
  WEBHOOK_POLL_MS: '20',
  // The lease is the timeout + 30 s: what a killed process held is sent again after that.
  WEBHOOK_TIMEOUT_MS: '2000',
  WEBHOOK_RETRY_BASE_MS: '1000',
  WEBHOOK_RETRY_CAP_MS: '5000',
  PORT: '0',
  HOST: '127.0.0.1',
  LOG_LEVEL: 'info',
});

/** Repeats one kill of every dispatcher may cause: what was in flight when they died. */
const repeatsPerKill = Math.min(ENDPOINT_LIMIT, processes * CAPACITY);

export async function killRun(bench: string, run: WebhookRun): Promise<boolean> {
  const size = Number(process.env.BENCH_WEBHOOKS ?? (small ? 1_000 : 10_000));
  const receiver = await startReceiver(10);
  const logDir = mkdtempSync(join(tmpdir(), 'bench-webhooks-kill-'));
  const spec = {
    main: WORKER,
    processes,
    env: workerEnv(run, `mauntic-bench-wkill-${newId().slice(-12)}`),
    runningLine: 'webhook dispatcher running',
    dir: logDir,
    label: 'dispatcher',
  };
  try {
    const endpoint = await run.endpointFor(receiver.url);
    const events = run.newEvents(size);
    await run.record(events);
    const t0 = performance.now();
    const kills = [size / 4, size / 2];
    for (const [k, at] of kills.entries()) {
      const workers = await startWorkers({ ...spec, label: `dispatcher-${k}` });
      while (receiver.events() < at) await new Promise((r) => setTimeout(r, 5));
      for (const w of workers.list) w.child.kill('SIGKILL');
      await workers.stop();
    }
    const last = await startWorkers({ ...spec, label: 'dispatcher-last' });
    const done = await untilTrue(async () => (await unsettled(run.handle, endpoint)) === 0, DEADLINE_MS);
    await last.stop();
    const lost = receiver.missing(events.map((e) => e.id));
    const duplicates = receiver.duplicates();
    const bound = kills.length * repeatsPerKill;
    report(bench, 'deliveries', size, 'deliveries');
    report(bench, 'kills', kills.length, 'kills');
    report(bench, 'dispatchers', processes, 'processes');
    report(bench, 'duplicates', duplicates, 'posts');
    report(bench, 'duplicates_bound', bound, 'posts');
    report(bench, 'lost', lost, 'deliveries');
    report(bench, 'kill_run_seconds', (performance.now() - t0) / 1000, 's');
    const failed = !done || lost > 0 || duplicates > bound;
    if (failed) process.stderr.write(`[bench webhooks --kill] done=${done}; dispatchers' logs in ${logDir}\n`);
    else rmSync(logDir, { recursive: true, force: true });
    return failed;
  } finally {
    await receiver.close();
  }
}

/** How long events keep being published: the faults are spread over it. */
const ENTRY_SECONDS = Number(process.env.BENCH_WEBHOOK_SECONDS ?? (small ? 30 : 60));

export async function faultRun(bench: string, run: WebhookRun): Promise<boolean> {
  const size = Number(process.env.BENCH_FAULT_WEBHOOKS ?? (small ? 3_000 : 30_000));
  const receiver = await startReceiver(5);
  const logDir = mkdtempSync(join(tmpdir(), 'bench-webhooks-faults-'));
  const topicPrefix = `mauntic-bench-wfaults-${newId().slice(-12)}`;
  const endpoint = await run.endpointFor(receiver.url);
  const events = run.newEvents(size);
  const workers = await startWorkers({
    main: WORKER,
    processes,
    env: workerEnv(run, topicPrefix),
    runningLine: 'webhook dispatcher running',
    dir: logDir,
    label: 'dispatcher',
  });
  const publisher = new KafkaEventBus({
    brokers,
    clientId: 'bench-webhooks-faults',
    topicPrefix,
    logger: createLogger('bench-webhooks-faults', 'silent'),
  });
  await publisher.start();
  const list = serviceFaults(run.handle, { application: DISPATCHER_APPLICATION, label: 'dispatcher' });
  const t0 = performance.now();
  let published = 0;
  let stopped = false;
  const publishing = publish(
    publisher,
    events,
    (n) => (published = n),
    () => stopped,
  );
  const faults: string[] = [];
  const unsettledFaults: string[] = [];
  let before: (number | null)[] = [];
  let done = false;
  try {
    for (const [k, fault] of list.entries()) {
      // Each fault at its share of the publishing, the one before it waited out.
      await untilTrue(async () => published >= ((k + 1) / (list.length + 1)) * size, DEADLINE_MS);
      if (exited(workers)) break;
      const received = receiver.events();
      process.stderr.write(`[bench webhooks --faults] ${fault.name} at ${published} published, ${received} received\n`);
      await fault.inject();
      faults.push(fault.name);
      if (k === list.length - 1) before = await Promise.all(workers.list.map((w) => metricOf(w, ATTEMPTS_METRIC)));
      const settled = await untilTrue(async () => receiver.events() > received || exited(workers), SETTLE_MS);
      if (!settled) unsettledFaults.push(fault.name);
    }
    await publishing;
    done = await untilTrue(
      async () =>
        exited(workers) ||
        (receiver.missing(events.map((e) => e.id)) === 0 &&
          (await unsettled(run.handle, endpoint).catch(() => -1)) === 0),
      DEADLINE_MS,
    );
  } finally {
    stopped = true;
    await publishing;
  }
  const seconds = (performance.now() - t0) / 1000;
  const recovered = await countRecovered(workers, before, ATTEMPTS_METRIC, {
    bench: 'webhooks',
    label: 'dispatcher',
    dir: logDir,
  });
  await workers.stop();
  await publisher.stop();
  await receiver.close();
  const lost = receiver.missing(events.map((e) => e.id));
  const duplicates = receiver.duplicates();
  report(bench, 'events', size, 'events');
  report(bench, 'faults', faults.length, 'faults');
  report(bench, 'duplicates', duplicates, 'posts');
  report(bench, 'lost', lost, 'events');
  report(bench, 'dispatchers', processes, 'processes');
  report(bench, 'dispatchers_recovered', recovered, 'processes');
  report(bench, 'fault_run_seconds', seconds, 's');
  const failed =
    !done ||
    lost > 0 ||
    duplicates > 0 ||
    recovered < processes ||
    faults.length < list.length ||
    unsettledFaults.length > 0;
  if (failed)
    process.stderr.write(
      `[bench webhooks --faults] done=${done} faults: ${faults.join(', ')}; unsettled: ${unsettledFaults.join(', ')}; dispatchers' logs in ${logDir}\n`,
    );
  else rmSync(logDir, { recursive: true, force: true });
  return failed;
}

/** Publishes the events in slices over ENTRY_SECONDS; a slice the broker refused is sent again. */
async function publish(
  bus: KafkaEventBus,
  events: EventEnvelope[],
  progress: (n: number) => void,
  stopped: () => boolean,
) {
  const slice = Math.max(1, Math.ceil(events.length / (ENTRY_SECONDS * 10)));
  for (let i = 0; i < events.length && !stopped(); ) {
    try {
      await bus.publish(events.slice(i, i + slice));
      i += slice;
      progress(Math.min(i, events.length));
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

const exited = (workers: Workers) => workers.list.some((w) => w.exited);

/** The endpoint's deliveries not (yet) succeeded. */
async function unsettled(handle: DatabaseHandle, endpoint: string): Promise<number> {
  const [row] = await handle.rows<{ n: number }>(sql`
    select count(*)::int as n from integrations.webhook_deliveries
    where endpoint_id = ${endpoint} and status <> 'succeeded'`);
  return row!.n;
}
