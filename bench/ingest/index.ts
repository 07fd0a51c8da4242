// The Segment-compatible ingestion endpoint under load: /v1/batch calls of 100 track events from
// 32 keep-alive connections (a child process), each answered once its calls are deduplicated and
// published to Kafka, as in a deployment (cluster mode publishes straight to the broker; the
// outbox, which embedded mode uses, is watched too). Two loads, one after the other:
// - open: the goal's 10,000 events/s offered on a fixed schedule (100 calls a second shared by
//   the 32 connections), each latency counted from when its call was due: ingest_p99_ms. A closed
//   loop cannot show a latency goal, as its latency is just connections / throughput.
// - closed: each connection sends its next call when answered, as fast as the endpoint takes
//   them: ingest_events_per_s, beside the same events produced straight to Kafka with kafkajs,
//   32 batches of 100 in flight (the baseline), and ingest_published_per_s, the rate until the
//   last accepted event was on Kafka (with events going through the outbox, the relay catching
//   up after the endpoint; straight to Kafka, the same as ingest_events_per_s).

import { type IntegrationsServices, integrationsModule, integrationsRoutes } from '@mauntic/integrations';
import { catalogue, createEvent, newId, type OrganizationId, type RequestContext, unwrap } from '@mauntic/kernel';
import {
  createLogger,
  generateEncryptionKey,
  KafkaEventBus,
  LocalJobQueue,
  loadSecrets,
  openDatabase,
  parseEncryptionKey,
  startContext,
  startHttpServer,
  startPorts,
} from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { Kafka, Partitioners } from 'kafkajs';
import { runLoad } from '../lib/load.ts';
import { percentile, report, small } from '../lib/report.ts';

const durationMs = small ? 2_000 : 10_000;
const connections = 32;
const perBatch = 100;
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const logger = createLogger('bench', 'silent');
// Its own topic prefix, deleted at the end: the benchmark leaves nothing for consumers to replay.
const topicPrefix = `mauntic-bench-ingest-${newId().slice(-8)}`;
const topic = `${topicPrefix}.integrations.events`;

const handle = await openDatabase({ url: databaseUrl, maxConnections: 20, applicationName: 'bench-ingest' });
const bus = new KafkaEventBus({ brokers, clientId: 'bench-ingest', logger, topicPrefix });
const queue = new LocalJobQueue({ logger });
const secrets = loadSecrets({ INTERNAL_CONTEXT_SECRET: 'bench-internal', AUTH_JWT_SECRET: 'bench-jwt' });
const context = await startContext(
  integrationsModule({ encryptionKey: parseEncryptionKey(generateEncryptionKey()) }),
  { handle, bus, queue, logger, secrets },
  { migrate: true },
);
await startPorts({ bus, queue }, [context as never]);
const services = context.services as IntegrationsServices;
const http = await startHttpServer({ service: 'bench', logger, routes: integrationsRoutes(services) }, 0, '127.0.0.1');

const organizationId = newId() as OrganizationId;
const ctx: RequestContext = {
  correlationId: newId(),
  actor: { type: 'user', id: newId() },
  organizationId,
  scopes: ['integrations:admin'],
};
const { writeKey } = unwrap(await services.createSource(ctx, { name: 'bench' }));

// What analytics-node sends for 100 track calls (without messageIds: each call gets its own).
const sentAt = new Date().toISOString();
const calls = Array.from({ length: perBatch }, (_, i) => ({
  type: 'track',
  userId: `user-${i}`,
  event: 'Product Viewed',
  properties: { sku: `sku-${i}`, price: 19.99, currency: 'EUR' },
  context: { library: { name: '@segment/analytics-node', version: '3.1.0' } },
  timestamp: sentAt,
}));
const body = JSON.stringify({ batch: calls, sentAt });

// Warm up (JIT, pools, the topic), then the measured run.
const spec = {
  url: `${http.url}/v1/batch`,
  body,
  headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${writeKey}:`)}` },
  connections,
};
const pending = async () =>
  (
    await handle.rows<{ n: number }>(
      sql`select count(*)::int as n from integrations.outbox where organization_id = ${organizationId} and published_at is null`,
    )
  )[0]!.n;
const published = async () => {
  while ((await pending()) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
};
await runLoad({ ...spec, durationMs: 500 });
await published();
const open = await runLoad({ ...spec, durationMs, requestsPerSecond: 10_000 / perBatch });
if (open.errors) throw new Error(`${open.errors} of ${open.requests} ingestion calls failed`);
const p99 = percentile(
  open.latenciesMs.sort((a, b) => a - b),
  99,
);
await published();
const closedStarted = performance.now();
const load = await runLoad({ ...spec, durationMs });
if (load.errors) throw new Error(`${load.errors} of ${load.requests} ingestion calls failed`);
const ingestRate = (load.requests * perBatch) / load.seconds;
await published();
const publishedRate = (load.requests * perBatch) / ((performance.now() - closedStarted) / 1000);

// Baseline: the catalogued events the endpoint publishes, produced directly, 32 batches in flight.
const envelopes = calls.map((c) =>
  JSON.stringify(
    createEvent(catalogue.integrations.segmentCallReceived, {
      organizationId,
      subjectId: c.userId,
      correlationId: newId(),
      data: {
        sourceId: newId(),
        call: 'track',
        messageId: newId(),
        userId: c.userId,
        event: c.event,
        properties: c.properties,
        context: c.context,
        timestamp: c.timestamp,
        receivedAt: sentAt,
      },
    }),
  ),
);
const kafka = new Kafka({ clientId: 'bench-ingest-baseline', brokers, logLevel: 0 });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
let produced = 0;
const started = performance.now();
const deadline = started + durationMs;
await Promise.all(
  Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) {
      await producer.send({
        topic,
        acks: -1,
        messages: envelopes.map((value, i) => ({ key: calls[i]!.userId, value })),
      });
      produced += perBatch;
    }
  }),
);
const baselineRate = produced / ((performance.now() - started) / 1000);
await producer.disconnect();

await http.close();
await context.stop();
await queue.stop();
await bus.stop();
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await admin.disconnect();
// The benchmark's rows go with it (received_messages by cascade).
await handle.script(`
  delete from integrations.sources where organization_id = '${organizationId}';
  delete from integrations.outbox where organization_id = '${organizationId}';`);
await handle.close();

report('ingest', 'ingest_events_per_s', ingestRate, 'events/s', baselineRate);
report('ingest', 'ingest_published_per_s', publishedRate, 'events/s', baselineRate);
report('ingest', 'ingest_p99_ms', p99, 'ms');
