// `pnpm bench webhooks [--kill | --faults]`: outbound webhooks from the integrations context's
// delivery log on the real Postgres to a local HTTP receiver (receiver.ts), one endpoint.
//   deliveries_per_s  N recorded deliveries (20,000; small: 2,000; BENCH_WEBHOOKS) sent by the
//                     dispatcher in-process, each POSTed, signed, and its attempt recorded, per
//                     second (baseline: the same bodies POSTed with fetch to the same receiver at
//                     the same concurrency, measured in this run)
// With --kill the dispatcher's worker processes (the real main, workers/webhook-dispatcher) send
// recorded deliveries and are all killed with SIGKILL twice mid-run and started again; with
// --faults they take events from Kafka while Postgres, their connections, Kafka and Redis fail
// under them (faults.ts). Both report duplicates (POSTs beyond one per event), lost (events never
// received), and exit with an error if anything is lost or the duplicates pass their bound.

import { integrationsModule } from '@mauntic/integrations';
import { recordWebhookEvent, WebhookDispatcher, webhookBody } from '@mauntic/integrations/dispatcher';
import { createIntegrationsServices } from '@mauntic/integrations/services';
import { catalogue, createEvent, type EventEnvelope, newId, unwrap } from '@mauntic/kernel';
import {
  createLogger,
  generateEncryptionKey,
  openDatabase,
  outboundGuard,
  parseEncryptionKey,
  runMigrations,
  sql,
} from '@mauntic/platform';
import { benchOwner } from '../lib/context.ts';
import { report, small } from '../lib/report.ts';
import { faultRun, killRun } from './faults.ts';
import { startReceiver } from './receiver.ts';

const BENCH = 'webhooks';
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
/** The endpoint's limit of POSTs in flight (the most an endpoint may have), and the baseline's. */
const CONCURRENCY = 50;
const logger = createLogger('bench-webhooks', 'silent');

const handle = await openDatabase({ url: databaseUrl, maxConnections: 8 });
await runMigrations(handle, integrationsModule().migrations);
const owner = benchOwner();
const key = generateEncryptionKey();
const services = createIntegrationsServices({
  handle,
  logger,
  encryptionKey: parseEncryptionKey(key),
  outbound: outboundGuard({ allow: ['127.0.0.1'] }),
});
const endpointFor = async (url: string) =>
  unwrap(
    await services.createWebhookEndpoint(owner, {
      url,
      eventTypes: [catalogue.crm.segmentEntered.type],
      maxConcurrency: CONCURRENCY,
    }),
  ).id;
/** Events of distinct contacts: per-contact ordering holds none back. */
const newEvents = (n: number): EventEnvelope[] =>
  Array.from({ length: n }, () =>
    createEvent(catalogue.crm.segmentEntered, {
      organizationId: owner.organizationId,
      subjectId: newId(),
      data: { segmentId: newId() },
      correlationId: newId(),
    }),
  );
/** Each event's deliveries recorded, as the dispatcher's consumer records them. */
async function record(events: EventEnvelope[]) {
  for (let i = 0; i < events.length; i += 8)
    await Promise.all(events.slice(i, i + 8).map((event) => recordWebhookEvent({ handle }, event)));
}

try {
  const common = { handle, endpointFor, newEvents, record, databaseUrl, encryptionKey: key };
  if (process.argv.includes('--kill')) {
    if (await killRun(BENCH, common)) process.exitCode = 1;
  } else if (process.argv.includes('--faults')) {
    if (await faultRun(BENCH, common)) process.exitCode = 1;
  } else await throughputRun();
} finally {
  await handle.db.execute(
    sql`delete from integrations.webhook_endpoints where organization_id = ${owner.organizationId}`,
  );
  await handle.close();
}
// A Kafka client still reconnecting after a broker restart must not hold the process open.
process.exit();

async function throughputRun() {
  const size = Number(process.env.BENCH_WEBHOOKS ?? (small ? 2_000 : 20_000));
  const receiver = await startReceiver();
  try {
    const events = newEvents(size);
    await endpointFor(receiver.url);
    await record(events);
    const dispatcher = new WebhookDispatcher({
      handle,
      logger,
      encryptionKey: parseEncryptionKey(key),
      outbound: outboundGuard({ allow: ['127.0.0.1'] }),
      capacity: CONCURRENCY,
      pollMs: 20,
    });
    const t0 = performance.now();
    await dispatcher.start();
    // Done once every attempt is recorded, not only received.
    while ((await pending()) > 0) await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - t0) / 1000;
    await dispatcher.stop();
    if (receiver.missing(events.map((e) => e.id)) > 0) throw new Error('deliveries missing at the receiver');

    // The baseline: the same bodies POSTed straight to the same receiver, CONCURRENCY at a time.
    const bodies = events.map(webhookBody);
    let next = 0;
    const b0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++]!;
          const res = await fetch(receiver.url, {
            method: 'POST',
            body,
            headers: { 'content-type': 'application/json' },
          });
          await res.arrayBuffer();
        }
      }),
    );
    const baseline = size / ((performance.now() - b0) / 1000);
    report(BENCH, 'deliveries', size, 'deliveries');
    report(BENCH, 'deliveries_per_s', size / seconds, 'deliveries/s', baseline);
  } finally {
    await receiver.close();
  }
}

async function pending() {
  const [row] = await handle.rows<{ n: number }>(sql`
    select count(*)::int as n from integrations.webhook_deliveries
    where organization_id = ${owner.organizationId} and status <> 'succeeded'`);
  return row!.n;
}
