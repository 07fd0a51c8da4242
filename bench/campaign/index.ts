// `pnpm bench campaign [--kill]`: a campaign to a segment of N contacts (1,000,000; small: 20,000)
// on the real Postgres, the sender in-process.
//   materialise_s    launch -> its recipients written, set-based, once
//   handoff_per_s    recipients handed to delivery per second: each batch marks its recipients
//                    requested and writes their delivery.message.requested events to the outbox in
//                    one transaction (baseline: a plain INSERT ... SELECT of the same rows, the
//                    same envelopes, into a copy of the outbox table, in the same database)
//   first_request_s  launch -> the first send request committed to the outbox
// With --kill the sender runs as its own process, killed with SIGKILL twice mid-launch and
// started again: duplicates (requests beyond one per recipient) and lost (recipients without one).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { campaignModule } from '@mauntic/campaign';
import { CampaignSender, startDueCampaigns } from '@mauntic/campaign/sender';
import { createCampaignServices } from '@mauntic/campaign/services';
import { newId, unwrap } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, openDatabase, rowsOf, runMigrations, sql } from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { benchOwner } from '../lib/context.ts';
import { report, small } from '../lib/report.ts';

const BENCH = 'campaign';
const size = Number(process.env.BENCH_CONTACTS ?? (small ? 20_000 : 1_000_000));
const kill = process.argv.includes('--kill');
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
const batchSize = Number(process.env.SENDER_BATCH_SIZE ?? 5000);
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

try {
  const segment = await seed(handle);
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
  else await throughputRun(campaign.id, services);
} finally {
  await cleanUp();
  await handle.close();
}

/** N contacts in the campaign context's copy of CRM, all in one segment. */
async function seed(db: DatabaseHandle): Promise<string> {
  const segment = newId();
  await db.db.execute(sql`
    insert into campaign.contacts (id, organization_id, timezone)
    select gen_random_uuid(), ${org}::uuid, 'Europe/Paris' from generate_series(1, ${size})`);
  await db.db.execute(sql`
    insert into campaign.segment_memberships (organization_id, segment_id, contact_id)
    select ${org}::uuid, ${segment}::uuid, id from campaign.contacts where organization_id = ${org}`);
  await db.db.execute(sql`analyze campaign.contacts`);
  await db.db.execute(sql`analyze campaign.segment_memberships`);
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
async function cleanUp() {
  await handle.db.execute(sql`drop table if exists campaign.bench_outbox`);
  for (const table of ['outbox', 'recipients', 'segment_memberships', 'contacts', 'campaigns'])
    await handle.db.execute(sql`delete from ${sql.raw(`campaign.${table}`)} where organization_id = ${org}`);
}
