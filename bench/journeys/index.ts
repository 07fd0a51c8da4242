// Journeys: step transitions per second of executors walking N contacts through a published
// journey (update contact -> condition -> random split -> send email -> exit), beside raw kafkajs
// producing and consuming as many messages on the same broker; then N runs parked on a 1-hour
// delay: the executor's memory with none and with N waiting, and how late they wake once the
// delay is moved to fall due in 5 s (the delay step's commit, and the exit step's after it). With --kill the executors are killed (SIGKILL) twice during
// the walk and restarted: steps executed twice and runs lost are counted. With --faults (faults.ts)
// the executors' worker processes walk while Postgres is restarted, their connections terminated,
// and the Kafka broker and Redis restarted, each once: duplicates, lost, executors and
// executors_recovered are reported, and the run exits with an error unless they are 0, 0 and all.
//
// Measured at the executor: a transition is a step committed with its step log row, run update
// and outbox events (the send requests included). Relaying the outbox to delivery is the outbox
// benchmark's subject, sending mail the send benchmark's.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { journeyModule } from '@mauntic/journey';
import { enterContacts, entryKeys, journeyDefinition } from '@mauntic/journey/executor';
import { newId } from '@mauntic/kernel';
import { type DatabaseHandle, openDatabase, runMigrations, sql } from '@mauntic/platform';
import { Kafka, Partitioners } from 'kafkajs';
import { percentile, report, small } from '../lib/report.ts';
import { runWithFaults } from './faults.ts';

const size = Number(process.env.BENCH_CONTACTS ?? (small ? 2_000 : 100_000));
const kill = process.argv.includes('--kill');
const faults = process.argv.includes('--faults');
// One executor with two lanes keeps both cores busy; --kill runs two side by side and kills both.
const executors = Number(process.env.BENCH_EXECUTORS ?? (kill ? 2 : 1));
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const TEMPLATE = '0190a000-0000-7000-8000-00000000be11';
const STEPS = 5;

/** Executors still running: killed if the benchmark itself fails, so none is left walking. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const handle = await openDatabase({ url: databaseUrl, maxConnections: 4 });
await runMigrations(handle, journeyModule().migrations);
await cleanUp(handle);

const walkJourney = {
  entry: [{ type: 'api' }],
  start: 'update',
  steps: {
    update: { type: 'updateContact', addTags: ['bench'], points: 1, next: 'check' },
    check: { type: 'condition', filter: { tags: { op: 'includesAny', value: ['bench'] } }, yes: 'ab', no: 'out' },
    ab: {
      type: 'split',
      branches: [
        { weight: 50, next: 'mail' },
        { weight: 50, next: 'mail' },
      ],
    },
    mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'out' },
    out: { type: 'exit' },
  },
  settings: { entryRule: { kind: 'everyTime' } },
};
const waitJourney = {
  entry: [{ type: 'api' }],
  start: 'later',
  steps: { later: { type: 'delay', wait: { duration: '1 hour' }, next: 'out' }, out: { type: 'exit' } },
  settings: { entryRule: { kind: 'everyTime' } },
};

// --- services failing under the executors (--faults) ----------------------------------------------
if (faults) {
  const org = newId();
  await contactsInSegment(handle, org, size);
  // Entered once per contact: a slice retried after a lost commit enters nobody twice.
  const journey = await publish(handle, org, { ...walkJourney, settings: { entryRule: { kind: 'once' } } });
  const contacts = (
    await handle.rows<{ id: string }>(sql`select id from journey.contacts where organization_id = ${org} order by id`)
  ).map((r) => r.id);
  const run = await runWithFaults({
    handle,
    target: {
      organizationId: org,
      journeyId: journey.id,
      versionId: journey.versionId,
      version: 1,
      start: journey.definition.start,
      entryRule: journey.definition.settings.entryRule,
    },
    contacts,
    steps: STEPS,
  });
  report('journeys', 'contacts', size, 'contacts');
  report('journeys', 'faults', run.faults.length, 'faults');
  report('journeys', 'duplicates', run.duplicates, 'steps');
  report('journeys', 'lost', run.lost, 'runs or steps');
  report('journeys', 'executors', run.executors, 'processes');
  report('journeys', 'executors_recovered', run.executorsRecovered, 'processes');
  report('journeys', 'transitions_per_s', run.detail.steps_logged! / run.seconds, 'transitions/s');
  for (const [metric, value] of Object.entries(run.detail)) report('journeys', metric, value, 'count');
  if (
    run.duplicates + run.lost > 0 ||
    run.executorsRecovered < run.executors ||
    run.faults.length < run.planned ||
    run.unsettled.length > 0
  ) {
    console.error(
      `[bench journeys --faults] not exactly once, or not every fault injected and survived: ${run.faults.join(', ')}; unsettled: ${run.unsettled.join(', ') || 'none'}`,
    );
    process.exitCode = 1;
  }
}

// --- transitions per second ------------------------------------------------------------------------
if (!faults) {
  const org = newId();
  const segment = await contactsInSegment(handle, org, size);
  const journey = await publish(handle, org, walkJourney);
  const starters = Array.from({ length: executors }, (_, i) => executorStarter(`bench-walk-${i}-${newId()}`));
  let children = await Promise.all(starters.map((start) => start()));
  // Entering is one set-based statement; the runs are walked once it commits.
  const entering = performance.now();
  await enter(handle, journey, org, segment);
  const t0 = performance.now();
  report('journeys', 'entries_per_s', size / ((t0 - entering) / 1000), 'runs/s');
  const expected = size * STEPS;
  const logged = () =>
    count(handle, sql`select count(*)::int as n from journey.step_log where journey_id = ${journey.id}`);
  if (kill)
    for (const share of [0.3, 0.7]) {
      await until(async () => (await logged()) >= share * expected);
      await Promise.all(children.map(stopHard));
      children = await Promise.all(starters.map((start) => start()));
    }
  await until(async () => (await active(handle, journey.id)) === 0, 600_000);
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all(children.map(stopHard));
  const transitions = await logged();
  const baseline = await kafkaBaseline(transitions);
  report('journeys', 'transitions_per_s', transitions / seconds, 'transitions/s', baseline);
  report('journeys', 'contacts', size, 'contacts');
  if (kill) {
    const sends = await handle.rows<{ n: number; keys: number }>(sql`
      select count(*)::int as n, count(distinct envelope::jsonb -> 'data' ->> 'idempotencyKey')::int as keys
      from journey.outbox where organization_id = ${org} and type = 'delivery.message.requested'`);
    const stepEvents = await handle.rows<{ n: number; keys: number }>(sql`
      select count(*)::int as n,
        count(distinct (envelope::jsonb -> 'data' ->> 'runId') || (envelope::jsonb -> 'data' ->> 'stepId') || (envelope::jsonb -> 'data' ->> 'visit'))::int as keys
      from journey.outbox where organization_id = ${org} and type = 'journey.step.completed'`);
    const ended = await count(
      handle,
      sql`select count(*)::int as n from journey.runs where journey_id = ${journey.id} and state = 'exited'`,
    );
    report('journeys', 'duplicates', sends[0]!.n - sends[0]!.keys + stepEvents[0]!.n - stepEvents[0]!.keys, 'steps');
    report('journeys', 'lost', size - ended + (expected - transitions) + (size - sends[0]!.keys), 'runs or steps');
  }
}

// --- waiting runs: memory, then wake-up lateness ---------------------------------------------------
if (!kill && !faults) {
  const org = newId();
  const segment = await contactsInSegment(handle, org, size);
  const journey = await publish(handle, org, waitJourney);
  // Each figure is a fresh executor process, idle for 3 s: one with no run waiting, one with N. An
  // executor keeps nothing per waiting run (they are rows with a due time), so the difference is
  // what waiting costs it. The process that parked the runs is reported apart: until V8 shrinks
  // its heap it still carries the garbage of having walked them.
  const settle = () => new Promise((r) => setTimeout(r, 3000));
  const walker = await executorStarter(`bench-wait-${newId()}`)();
  await settle();
  const idle = rssMb(walker);
  await enter(handle, journey, org, segment);
  await until(
    async () =>
      (await count(
        handle,
        sql`select count(*)::int as n from journey.runs where journey_id = ${journey.id} and state = 'waiting'`,
      )) === size,
    600_000,
  );
  await settle();
  report('journeys', 'parking_executor_rss_mb', rssMb(walker), 'MB', idle);
  await stopHard(walker);
  const child = await executorStarter(`bench-wait-${newId()}`)();
  await settle();
  const parked = rssMb(child);
  report('journeys', 'waiting_rss_mb', parked, 'MB', idle);
  report('journeys', 'waiting_rss_delta_mb', parked - idle, 'MB');

  const [{ due }] = (await handle.rows<{ due: string }>(sql`
    update journey.runs set due_at = now() + interval '5 seconds' where journey_id = ${journey.id} and state = 'waiting'
    returning due_at as due`)) as [{ due: string }];
  await until(async () => (await active(handle, journey.id)) === 0, 600_000);
  // How long after the due time each run's step committed: the delay itself (woken), and the
  // exit step after it, which the lanes walk once the delay is done.
  const lateness = async (stepId: string) =>
    (
      await handle.rows<{ ms: number }>(sql`
        select extract(epoch from (at - ${new Date(due).toISOString()}::timestamptz)) * 1000 as ms
        from journey.step_log where journey_id = ${journey.id} and step_id = ${stepId}`)
    )
      .map((r) => Number(r.ms))
      .sort((a, b) => a - b);
  const woken = await lateness('later');
  report('journeys', 'wake_lateness_p50_ms', percentile(woken, 50), 'ms');
  report('journeys', 'wake_lateness_p99_ms', percentile(woken, 99), 'ms');
  const next = await lateness('out');
  report('journeys', 'next_step_lateness_p50_ms', percentile(next, 50), 'ms');
  report('journeys', 'next_step_lateness_p99_ms', percentile(next, 99), 'ms');
  await stopHard(child);
}

await cleanUp(handle);
await handle.close();

// --- helpers ------------------------------------------------------------------------------------------

async function cleanUp(h: DatabaseHandle) {
  await h.script(`
    delete from journey.outbox where organization_id in (select organization_id from journey.journeys where name like 'bench:%');
    delete from journey.contacts where organization_id in (select organization_id from journey.journeys where name like 'bench:%');
    delete from journey.segment_memberships where organization_id in (select organization_id from journey.journeys where name like 'bench:%');
    delete from journey.journeys where name like 'bench:%';`);
}

async function contactsInSegment(h: DatabaseHandle, org: string, n: number): Promise<string> {
  const segment = newId();
  await h.script(`
    insert into journey.contacts (id, organization_id, email)
      select gen_random_uuid(), '${org}', 'c' || g || '@bench.test' from generate_series(1, ${n}) g;
    insert into journey.segment_memberships (organization_id, segment_id, contact_id)
      select organization_id, '${segment}', id from journey.contacts where organization_id = '${org}';`);
  return segment;
}

interface Published {
  id: string;
  versionId: string;
  definition: ReturnType<typeof journeyDefinition.parse>;
}

async function publish(h: DatabaseHandle, org: string, definition: unknown): Promise<Published> {
  const parsed = journeyDefinition.parse(definition);
  const id = newId();
  const versionId = newId();
  await h.db.transaction(async (tx) => {
    await tx.execute(sql`insert into journey.journeys (id, organization_id, name, definition, status, version, entry_keys)
      values (${id}, ${org}, ${`bench:${id}`}, ${JSON.stringify(parsed)}::jsonb, 'active', 1, ${`{${entryKeys(parsed).join(',')}}`}::text[])`);
    await tx.execute(sql`insert into journey.journey_versions (id, organization_id, journey_id, version, definition)
      values (${versionId}, ${org}, ${id}, 1, ${JSON.stringify(parsed)}::jsonb)`);
    await tx.execute(sql`update journey.journeys set current_version_id = ${versionId} where id = ${id}`);
  });
  return { id, versionId, definition: parsed };
}

/** Every member of the segment enters, set-based, as enrollSegment does. */
async function enter(h: DatabaseHandle, journey: Published, org: string, segment: string) {
  await enterContacts(h.db, {
    target: {
      organizationId: org,
      journeyId: journey.id,
      versionId: journey.versionId,
      version: 1,
      start: journey.definition.start,
      entryRule: journey.definition.settings.entryRule,
    },
    contacts: sql`select contact_id from journey.segment_memberships where organization_id = ${org} and segment_id = ${segment}`,
    trigger: 'api',
    data: {},
    now: new Date(),
    correlationId: 'bench',
  });
}

async function count(h: DatabaseHandle, query: ReturnType<typeof sql>): Promise<number> {
  return (await h.rows<{ n: number }>(query))[0]!.n;
}

function active(h: DatabaseHandle, journeyId: string): Promise<number> {
  return count(
    h,
    sql`select count(*)::int as n from journey.runs where journey_id = ${journeyId} and state in ('ready', 'waiting')`,
  );
}

async function until(check: () => Promise<boolean>, timeoutMs = 300_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the benchmark timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function executorStarter(owner: string, lanes = '2'): () => Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./executor-process.ts', import.meta.url));
  return () =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script], {
        env: {
          ...process.env,
          DATABASE_URL: databaseUrl,
          EXECUTOR_OWNER: owner,
          EXECUTOR_LANES: lanes,
          EXECUTOR_BATCH_SIZE: process.env.EXECUTOR_BATCH_SIZE ?? '1000',
          EXECUTOR_SWEEP_MS: '100',
          LOG_LEVEL: 'silent',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      running.add(child);
      child.once('exit', () => running.delete(child));
      child.once('error', reject);
      child.stdout!.once('data', () => resolve(child));
    });
}

function stopHard(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

function rssMb(child: ChildProcess): number {
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Raw kafkajs: `n` small messages produced in batches of 1,000 and consumed, end to end. */
async function kafkaBaseline(n: number): Promise<number> {
  const kafka = new Kafka({ clientId: 'bench-journeys-baseline', brokers, logLevel: 0 });
  const topic = `mauntic-bench.journeys-baseline.${newId()}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const consumer = kafka.consumer({ groupId: `bench-journeys-${newId()}` });
  await Promise.all([producer.connect(), consumer.connect()]);
  await consumer.subscribe({ topic, fromBeginning: true });
  let consumed = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      consumed += batch.messages.length;
      if (consumed >= n) done();
    },
  });
  const value = JSON.stringify({ runId: newId(), stepId: 'mail', visit: 1, status: 'completed' });
  const t0 = performance.now();
  for (let i = 0; i < n; i += 1000)
    await producer.send({
      topic,
      acks: -1,
      messages: Array.from({ length: Math.min(1000, n - i) }, (_, j) => ({ key: String(i + j), value })),
    });
  await all;
  const rate = n / ((performance.now() - t0) / 1000);
  await Promise.all([producer.disconnect(), consumer.disconnect()]);
  await admin.deleteTopics({ topics: [topic] });
  await admin.disconnect();
  return rate;
}
