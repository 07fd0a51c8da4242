// Subscriptions at the gateway, end to end in cluster mode: events committed to an outbox table in
// Postgres, published to Kafka by the outbox relay, read by the gateway (its own process, its own
// consumer group) and sent over graphql-ws to 1,000 subscribed connections (one organization each,
// so each event reaches one client), at 5,000 events/s. Latency is from the commit of the event's
// transaction to its arrival at the client; the baseline is the same events reaching a plain
// kafkajs consumer in this process (commit -> relay -> Kafka -> consumer, no gateway). Also the
// gateway process's resident memory with every connection open.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import {
  appendEvents,
  createLogger,
  KafkaEventBus,
  OutboxRelay,
  openDatabase,
  outboxTables,
  secretKey,
  signAccessToken,
} from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { pgSchema } from 'drizzle-orm/pg-core';
import { createClient } from 'graphql-ws';
import { Kafka } from 'kafkajs';
import { WebSocket } from 'ws';
import { percentile, report, small } from '../lib/report.ts';

const connections = small ? 100 : 1_000;
const eventsPerSecond = small ? 1_000 : 5_000;
const seconds = small ? 3 : 20;
const tickMs = 20;
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const prefix = `mauntic-bench-subs-${randomBytes(3).toString('hex')}`;
const logger = createLogger('bench', 'silent');
const root = fileURLToPath(new URL('../..', import.meta.url));

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

// The outbox, as a context's (bench/outbox's table), and its relay to Kafka.
const handle = await openDatabase({ url: databaseUrl });
const schemaName = 'subscriptions_bench';
await handle.script(`
  drop schema if exists ${schemaName} cascade;
  create schema ${schemaName};
  create table ${schemaName}.outbox (
    seq bigserial primary key, id uuid not null, organization_id uuid not null, topic text not null, key text not null,
    type text not null, envelope json not null, created_at timestamptz not null default now(),
    claimed_until timestamptz, published_at timestamptz);
  create unique index outbox_id_key on ${schemaName}.outbox (id);
  create index outbox_unpublished_idx on ${schemaName}.outbox (seq) where published_at is null;
`);
const { outbox } = outboxTables(pgSchema(schemaName));
const bus = new KafkaEventBus({ brokers, clientId: 'bench-subs-relay', logger, topicPrefix: prefix });
const relay = new OutboxRelay({ handle, context: 'crm', table: outbox, bus, logger, pollIntervalMs: 50 });
const kafka = new Kafka({ clientId: 'bench-subs', brokers, logLevel: 0 });
const admin = kafka.admin();
await admin.connect();
const topic = `${prefix}.crm.events`;
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });

// The gateway, as its own process, reading Kafka; no subgraph is called (the payload has no entity field).
const jwtSecret = randomBytes(32).toString('base64url');
const port = await freePort();
const gateway = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, 'gateway/src/index.ts'], {
  cwd: root,
  env: {
    ...process.env,
    LOG_LEVEL: 'warn',
    PORT: String(port),
    HOST: '127.0.0.1',
    AUTH_JWT_SECRET: jwtSecret,
    INTERNAL_CONTEXT_SECRET: randomBytes(32).toString('base64url'),
    KAFKA_BROKERS: brokers.join(','),
    KAFKA_TOPIC_PREFIX: prefix,
    REDIS_URL: '',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const deadline = Date.now() + 60_000;
for (;;) {
  if (Date.now() > deadline || gateway.exitCode !== null) throw new Error('the gateway did not start');
  // Alive is enough: its readiness wants the subgraphs, and none runs here.
  const ready = await fetch(`http://127.0.0.1:${port}/healthz`).then(
    (r) => r.ok,
    () => false,
  );
  if (ready) break;
  await new Promise((r) => setTimeout(r, 200));
}

// One organization per connection.
const organizations = Array.from({ length: connections }, () => newId());
const committedAt = new Map<string, number>();
const clientLatencies: number[] = [];
const baselineLatencies: number[] = [];
let received = 0;
let connected = 0;
const clients = await Promise.all(
  organizations.map(async (organizationId) => {
    const { token } = await signAccessToken(
      { userId: newId(), organizationId, role: 'viewer' },
      secretKey(jwtSecret),
      3600,
    );
    const client = createClient({
      url: `ws://127.0.0.1:${port}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: (e) => console.error('connection failed', e),
      on: { connected: () => connected++ },
    });
    client.subscribe(
      { query: 'subscription { contactUpdated { id contactId changed } }' },
      {
        next: (result) => {
          const id = (result.data?.contactUpdated as { id: string } | undefined)?.id;
          const at = id && committedAt.get(id);
          if (at) clientLatencies.push(performance.now() - at);
          received++;
        },
        error: (e) => console.error('subscription failed', e),
        complete: () => {},
      },
    );
    return client;
  }),
);
while (connected < connections) await new Promise((r) => setTimeout(r, 50));

// The baseline consumer: the same events at a plain consumer, no gateway.
const baseline = kafka.consumer({ groupId: `${prefix}.baseline`, maxWaitTimeInMs: 100 });
await baseline.connect();
await baseline.subscribe({ topic, fromBeginning: false });
const baselineJoined = new Promise<void>((resolve) => baseline.on(baseline.events.GROUP_JOIN, () => resolve()));
await baseline.run({
  partitionsConsumedConcurrently: 3,
  eachMessage: async ({ message }) => {
    const id = (JSON.parse(String(message.value)) as { id: string }).id;
    const at = committedAt.get(id);
    if (at) baselineLatencies.push(performance.now() - at);
  },
});
await baselineJoined;
await relay.start();
// Subscriptions are sent once connected: give the last ones a moment to be registered.
await new Promise((r) => setTimeout(r, 1500));

const perTick = Math.round((eventsPerSecond * tickMs) / 1000);
const ticks = Math.round((seconds * 1000) / tickMs);
const contactIds = organizations.map(() => newId());
let sent = 0;
const inFlight = new Set<Promise<void>>();
const started = performance.now();
for (let tick = 0; tick < ticks; tick++) {
  const events = Array.from({ length: perTick }, () => {
    const i = sent++ % connections;
    return createEvent(catalogue.crm.contactUpdated, {
      organizationId: organizations[i]!,
      subjectId: contactIds[i]!,
      correlationId: 'bench',
      data: {
        contact: {
          email: `c${i}@example.com`,
          firstName: null,
          lastName: null,
          phone: null,
          timezone: null,
          locale: null,
          ownerId: null,
          stageId: null,
          points: sent,
          tags: [],
          fields: {},
        },
        changed: ['points'],
      },
    });
  });
  // Each tick's transaction starts on time; a few may be in flight at once, as concurrent requests' would.
  const commit = handle.db
    .transaction((tx) => appendEvents(tx, outbox, events))
    .then(() => {
      const at = performance.now();
      for (const e of events) committedAt.set(e.id, at);
    });
  inFlight.add(commit);
  void commit.finally(() => inFlight.delete(commit));
  if (inFlight.size >= 8) await Promise.race(inFlight);
  const wait = started + (tick + 1) * tickMs - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
await Promise.all(inFlight);
const publishSeconds = (performance.now() - started) / 1000;
const drainUntil = performance.now() + 15_000;
while (received < sent && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 100));

const status = readFileSync(`/proc/${gateway.pid}/status`, 'utf8');
const rssMb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;

for (const client of clients) await client.dispose();
await baseline.disconnect();
await relay.stop();
await bus.stop();
gateway.kill('SIGTERM');
await new Promise((r) => gateway.once('exit', r));
await admin.deleteTopics({ topics: [topic] }).catch(() => {});
await admin.deleteGroups([`${prefix}.baseline`]).catch(() => {});
await admin.disconnect();
await handle.script(`drop schema ${schemaName} cascade`);
await handle.close();

clientLatencies.sort((a, b) => a - b);
baselineLatencies.sort((a, b) => a - b);
report(
  'subscriptions',
  'subscription_p99_ms',
  percentile(clientLatencies, 99),
  'ms',
  percentile(baselineLatencies, 99),
);
report(
  'subscriptions',
  'subscription_p50_ms',
  percentile(clientLatencies, 50),
  'ms',
  percentile(baselineLatencies, 50),
);
report('subscriptions', 'events_per_s', sent / publishSeconds, 'events/s');
report('subscriptions', 'connections', connections, 'connections');
report('subscriptions', 'gateway_rss_mb', rssMb, 'MB');
// Reported before failing, so a run that falls behind still shows how far and where (baseline vs clients).
report('subscriptions', 'events_delivered', received, 'events', baselineLatencies.length);
if (received < sent) throw new Error(`clients received ${received} of ${sent} events within 15 s of the last`);
