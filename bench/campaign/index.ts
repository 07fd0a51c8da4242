// `pnpm bench campaign [--kill]`: a campaign to a segment of N contacts (1,000,000; small: 20,000)
// on the real Postgres, the sender in-process.
//   materialise_s    launch -> its recipients written, set-based, once
//   handoff_per_s    recipients handed to delivery per second: each batch marks its recipients
//                    requested and writes their delivery.message.requested events to the outbox in
//                    one transaction (baseline: a plain INSERT ... SELECT of the same rows, the
//                    same envelopes, into a copy of the outbox table, in the same database)
//   first_request_s  launch -> the first send request committed to the outbox
// Then a campaign of E recipients (100,000; small: 1,000; BENCH_E2E_CONTACTS) through the whole
// cluster path: the sender, the campaign outbox relay to Kafka, delivery's send-request consumer,
// the delivery engine's processes (bench/send/engine-run.ts) and Postfix's smtp-sink:
//   first_message_s        launch -> the first message the sink accepted (its sent_at)
//   end_to_end_msgs_per_s  recipients the sink accepted per second, launch to the last one
//                          (baseline: the engine alone sending as many messages to the same sink,
//                          `pnpm bench send`'s msgs_per_s, measured in this run)
// With --kill the sender runs as its own process, killed with SIGKILL twice mid-launch and
// started again: duplicates (requests beyond one per recipient) and lost (recipients without one).
// With --faults the sender's worker processes hand campaigns of 200,000 recipients together
// (small: 20,000; BENCH_FAULT_CONTACTS) over while Postgres, their connections, Kafka and Redis
// fail under them (faults.ts): duplicates and lost (in the outbox and on Kafka), faults,
// senders_recovered; it exits with an error unless duplicates and lost are 0, every fault was
// injected and waited out, and every sender recovered.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { campaignModule } from '@mauntic/campaign';
import { CampaignSender, outbox, startDueCampaigns } from '@mauntic/campaign/sender';
import { createCampaignServices } from '@mauntic/campaign/services';
import { createDeliveryServices } from '@mauntic/delivery/services';
import { catalogue, newId, type OrganizationId, unwrap } from '@mauntic/kernel';
import {
  createLogger,
  KafkaEventBus,
  LocalJobQueue,
  OutboxRelay,
  openDatabase,
  rowsOf,
  runMigrations,
  sql,
} from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { benchOwner } from '../lib/context.ts';
import { report, small } from '../lib/report.ts';
import { PUBLIC_BASE_URL, reportAndRemove, runEngine, setUpRun, startEngines } from '../send/engine-run.ts';
import { CAMPAIGNS, runWithFaults } from './faults.ts';

const BENCH = 'campaign';
const size = Number(process.env.BENCH_CONTACTS ?? (small ? 20_000 : 1_000_000));
const kill = process.argv.includes('--kill');
const faults = process.argv.includes('--faults');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
const batchSize = Number(process.env.SENDER_BATCH_SIZE ?? 5000);
const e2eSize = Number(process.env.BENCH_E2E_CONTACTS ?? (small ? 1_000 : 100_000));
const sinkUrl = process.env.SMTP_SINK_URL ?? 'smtp://127.0.0.1:2525';
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
/** How long the end-to-end campaign may take before the run gives up. */
const E2E_DEADLINE_MS = (small ? 3 : 30) * 60_000;
const logger = createLogger('bench-campaign', 'silent');

const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

const handle = await openDatabase({ url: databaseUrl, maxConnections: 4 });
await runMigrations(handle, campaignModule().migrations);
const owner = benchOwner();
const org = owner.organizationId;
const count = async (query: ReturnType<typeof sql>) => rowsOf<{ n: number }>(await handle.db.execute(query))[0]!.n;

if (faults) {
  await faultRun();
  // The figures are out: a Kafka client still reconnecting after the broker restart must not hold
  // the process (and the test command) open; the exit code is the run's.
  process.exit();
}

try {
  await handle.db.execute(sql`
    insert into campaign.contacts (id, organization_id, timezone)
    select gen_random_uuid(), ${org}::uuid, 'Europe/Paris' from generate_series(1, ${size})`);
  const segment = await segmentOfAll(org);
  const services = createCampaignServices({ handle, logger, now: () => new Date() });
  const campaign = unwrap(
    await services.createCampaign(owner, {
      name: 'Bench',
      channel: 'email',
      variants: [{ key: 'A', templateId: newId() }],
      segmentIds: [segment],
    }),
  );
  if (kill) await killRun(campaign.id, services);
  else {
    await throughputRun(campaign.id, services);
    // Its million requests go before the next campaign's relay starts, which would publish them.
    await cleanUp(org);
    await deliveryRun(services);
  }
} finally {
  await cleanUp(org);
  await handle.close();
}

/** One segment of every contact of the organization in the campaign context's copy of CRM. */
async function segmentOfAll(organizationId: string): Promise<string> {
  const segment = newId();
  await handle.db.execute(sql`
    insert into campaign.segment_memberships (organization_id, segment_id, contact_id)
    select ${organizationId}::uuid, ${segment}::uuid, id from campaign.contacts where organization_id = ${organizationId}`);
  await handle.db.execute(sql`analyze campaign.contacts`);
  await handle.db.execute(sql`analyze campaign.segment_memberships`);
  return segment;
}

type Services = ReturnType<typeof createCampaignServices>;

async function throughputRun(campaignId: string, services: Services) {
  report(BENCH, 'contacts', size, 'contacts');
  let firstAt = 0;
  const sender = new CampaignSender({
    handle,
    logger,
    batchSize,
    onBatch: () => {
      firstAt ||= performance.now();
    },
  });
  const t0 = performance.now();
  unwrap(await services.launchCampaign(owner, { id: campaignId }));
  // Started (materialised) first, then handed over, each timed.
  await startDueCampaigns({ handle, logger, now: () => new Date() });
  const materialisedAt = performance.now();
  while ((await status(campaignId)) !== 'completed') await sender.tick();
  const done = performance.now();
  const requested = await requests();
  if (requested !== size) throw new Error(`${requested} requests for ${size} recipients`);
  report(BENCH, 'materialise_s', (materialisedAt - t0) / 1000, 's');
  report(BENCH, 'first_request_s', (firstAt - t0) / 1000, 's');

  // The baseline: the same rows, the same envelopes, in one INSERT ... SELECT.
  await handle.db.execute(sql`create table campaign.bench_outbox (like campaign.outbox including defaults)`);
  const b0 = performance.now();
  await handle.db.execute(sql`
    insert into campaign.bench_outbox (id, organization_id, topic, key, type, envelope)
    select o.id, o.organization_id, o.topic, o.key, o.type, o.envelope
    from campaign.outbox o where o.organization_id = ${org} and o.type = 'delivery.message.requested'`);
  const baseline = size / ((performance.now() - b0) / 1000);
  report(BENCH, 'handoff_per_s', size / ((done - materialisedAt) / 1000), 'requests/s', baseline);
}

async function killRun(campaignId: string, services: Services) {
  unwrap(await services.launchCampaign(owner, { id: campaignId }));
  for (const at of [size / 4, size / 2]) {
    const sender = await startSender();
    while ((await requests()) < at) await new Promise((r) => setTimeout(r, 5));
    await stop(sender);
  }
  const last = await startSender();
  while ((await status(campaignId)) !== 'completed') await new Promise((r) => setTimeout(r, 50));
  await stop(last);
  const [figures] = rowsOf<{ requests: number; keys: number }>(
    await handle.db.execute(sql`
      select count(*)::int as requests, count(distinct envelope::jsonb #>> '{data,idempotencyKey}')::int as keys
      from campaign.outbox where organization_id = ${org} and type = 'delivery.message.requested'`),
  );
  report(BENCH, 'kills', 2, 'kills');
  report(BENCH, 'requests', figures!.requests, 'requests');
  report(BENCH, 'duplicates', figures!.requests - figures!.keys, 'requests');
  report(BENCH, 'lost', size - figures!.keys, 'recipients');
  if (figures!.requests !== size || figures!.keys !== size) process.exitCode = 1;
}

/**
 * A campaign of e2eSize recipients from launch to the sink, every part as in the cluster: the
 * sender and the campaign outbox relay (as workers/campaign-sender runs them), Kafka, delivery's
 * send-request consumer (as the delivery subgraph runs it), the engine's processes. The engine
 * alone on the same sink first, as the baseline.
 */
async function deliveryRun(services: Services) {
  const alone = await runEngine({ count: e2eSize, sinkUrl, kills: 0 });
  const run = await setUpRun(e2eSize, new URL(sinkUrl));
  const ctx = { ...benchOwner(), organizationId: run.org as OrganizationId };
  // The campaign context's copy of the same contacts (CRM's events would have put them in both).
  await handle.db.execute(sql`
    insert into campaign.contacts (id, organization_id, timezone)
    select id, organization_id, 'Europe/Paris' from delivery.contacts where organization_id = ${run.org}`);
  const campaign = unwrap(
    await services.createCampaign(ctx, {
      name: 'Bench end to end',
      channel: 'email',
      variants: [{ key: 'A', templateId: run.templateId }],
      segmentIds: [await segmentOfAll(run.org)],
    }),
  );
  const journalDir = mkdtempSync(join(tmpdir(), 'bench-campaign-'));
  const bus = new KafkaEventBus({
    brokers,
    clientId: 'bench-campaign',
    topicPrefix: `mauntic-bench-campaign-${newId().slice(-12)}`,
    logger,
  });
  const delivery = createDeliveryServices({
    handle: run.handle,
    queue: new LocalJobQueue({ logger }),
    logger,
    now: () => new Date(),
    encryptionKey: run.keys.encryptionKey,
    trackingKey: Buffer.from(run.keys.trackingSecret, 'utf8'),
    publicBaseUrl: PUBLIC_BASE_URL,
  });
  for (const subscription of delivery.subscriptions())
    if (subscription.types?.includes(catalogue.delivery.messageRequested.type)) bus.subscribe(subscription);
  await bus.start();
  const relay = new OutboxRelay({ handle, context: 'campaign', table: outbox, bus, logger, batchSize: 5000 });
  const sender = new CampaignSender({ handle, logger, batchSize, pollMs: 50 });
  const engines = await startEngines(run.keys, journalDir);
  await relay.start();
  await sender.start();
  try {
    const launchedAt = Date.now();
    unwrap(await services.launchCampaign(ctx, { id: campaign.id }));
    const deadline = launchedAt + E2E_DEADLINE_MS;
    let figures = await sentFigures(run.org);
    while (figures.sent + figures.other < e2eSize && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      figures = await sentFigures(run.org);
    }
    if (figures.sent !== e2eSize) {
      process.exitCode = 1;
      console.error(`[bench campaign] ${figures.sent} of ${e2eSize} recipients reached the sink`);
    }
    report(BENCH, 'e2e_recipients', e2eSize, 'recipients');
    report(BENCH, 'first_message_s', (figures.first - launchedAt) / 1000, 's');
    report(
      BENCH,
      'end_to_end_msgs_per_s',
      figures.sent / ((figures.last - launchedAt) / 1000),
      'msgs/s',
      e2eSize / alone.seconds,
    );
  } finally {
    await sender.stop();
    await relay.stop();
    await bus.stop();
    await engines.stop();
    rmSync(journalDir, { recursive: true, force: true });
    await reportAndRemove(run.handle, run.org);
    await run.handle.close();
    await cleanUp(run.org);
  }
}

/** The organization's messages the sink accepted (first and last, in ms) and those settled otherwise. */
async function sentFigures(organizationId: string) {
  const [row] = rowsOf<{ sent: number; other: number; first: number | null; last: number | null }>(
    await handle.db.execute(sql`
      select count(*) filter (where status = 'sent')::int as sent,
             count(*) filter (where status not in ('queued', 'sending', 'sent'))::int as other,
             (extract(epoch from min(sent_at)) * 1000)::float8 as first,
             (extract(epoch from max(sent_at)) * 1000)::float8 as last
      from delivery.messages where organization_id = ${organizationId}`),
  );
  return { sent: row!.sent, other: row!.other, first: row!.first ?? 0, last: row!.last ?? 0 };
}

/** `--faults`: CAMPAIGNS campaigns, each to its own share of the contacts (faults.ts). */
async function faultRun() {
  const recipients = Number(process.env.BENCH_FAULT_CONTACTS ?? (small ? 20_000 : 200_000));
  try {
    await handle.db.execute(sql`
      insert into campaign.contacts (id, organization_id, timezone)
      select gen_random_uuid(), ${org}::uuid, 'Europe/Paris' from generate_series(1, ${recipients})`);
    const segments = Array.from({ length: CAMPAIGNS }, () => newId());
    await handle.db.execute(sql`
      insert into campaign.segment_memberships (organization_id, segment_id, contact_id)
      select ${org}::uuid, (${`{${segments.join(',')}}`}::uuid[])[1 + (row_number() over (order by id) - 1) % ${CAMPAIGNS}], id
      from campaign.contacts where organization_id = ${org}`);
    await handle.db.execute(sql`analyze campaign.segment_memberships`);
    const services = createCampaignServices({ handle, logger, now: () => new Date() });
    const campaigns: string[] = [];
    for (const [k, segment] of segments.entries())
      campaigns.push(
        unwrap(
          await services.createCampaign(owner, {
            name: `Faults ${k}`,
            channel: 'email',
            variants: [{ key: 'A', templateId: newId() }],
            segmentIds: [segment],
          }),
        ).id,
      );
    const run = await runWithFaults({ handle, owner, services, campaigns, size: recipients, databaseUrl });
    report(BENCH, 'recipients', recipients, 'recipients');
    report(BENCH, 'campaigns', CAMPAIGNS, 'campaigns');
    report(BENCH, 'faults', run.faults.length, 'faults');
    report(BENCH, 'faults_during_launch', run.duringLaunch, 'faults');
    report(BENCH, 'duplicates', run.duplicates, 'requests');
    report(BENCH, 'lost', run.lost, 'recipients');
    report(BENCH, 'senders', run.senders, 'processes');
    report(BENCH, 'senders_recovered', run.sendersRecovered, 'processes');
    report(BENCH, 'fault_run_seconds', run.seconds, 's');
    for (const [metric, value] of Object.entries(run.detail)) report(BENCH, metric, value, 'count');
    const failed =
      run.duplicates + run.lost > 0 ||
      run.sendersRecovered < run.senders ||
      run.faults.length < run.planned ||
      run.unsettled.length > 0;
    if (failed) {
      console.error(
        `[bench campaign --faults] not exactly once, or not every fault injected and survived: ${run.faults.join(', ')}; unsettled: ${run.unsettled.join(', ')}`,
      );
      process.exitCode = 1;
    }
  } finally {
    await cleanUp(org);
    await handle.close();
  }
}

function startSender(): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./sender-process.ts', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, script], {
      env: { ...process.env, DATABASE_URL: databaseUrl, SENDER_BATCH_SIZE: String(batchSize), SENDER_POLL_MS: '20' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    running.add(child);
    child.once('error', reject);
    child.stdout!.once('data', () => resolve(child));
  });
}

function stop(child: ChildProcess) {
  return new Promise<void>((resolve) => {
    child.once('exit', () => {
      running.delete(child);
      resolve();
    });
    child.kill('SIGKILL');
  });
}

function requests() {
  return count(sql`select count(*)::int as n from campaign.outbox
                   where organization_id = ${org} and type = 'delivery.message.requested'`);
}

async function status(id: string) {
  return rowsOf<{ status: string }>(
    await handle.db.execute(sql`select status from campaign.campaigns where id = ${id}`),
  )[0]!.status;
}

/** The benchmark's rows go, so runs do not pile up (and nothing relays its requests anywhere). */
async function cleanUp(organizationId: string) {
  await handle.db.execute(sql`drop table if exists campaign.bench_outbox`);
  for (const table of ['outbox', 'recipients', 'segment_memberships', 'contacts', 'campaigns'])
    await handle.db.execute(sql`delete from ${sql.raw(`campaign.${table}`)} where organization_id = ${organizationId}`);
}
