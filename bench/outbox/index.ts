// The outbox relay's cost: committed outbox rows claimed, published to Kafka and marked,
// against the same envelopes sent straight to Kafka by a plain kafkajs producer in batches of
// the same size (the baseline), in one run on the real services.
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import { createLogger, KafkaEventBus, OutboxRelay, openDatabase, outboxTables } from '@mauntic/platform';
import { pgSchema } from 'drizzle-orm/pg-core';
import { Kafka, Partitioners } from 'kafkajs';
import { report, small } from '../lib/report.ts';

const events = small ? 2_000 : 100_000;
const batchSize = 500;
const databaseUrl = process.env.DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic';
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const logger = createLogger('bench', 'silent');
// Its own topic prefix, deleted at the end: the benchmark leaves nothing for consumers to replay.
const topic = 'mauntic-bench.identity.events';

const handle = await openDatabase({ url: databaseUrl });
const schemaName = 'outbox_bench';
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
// As a running outbox looks when a burst comes: a day of published rows kept, and statistics
// from when nearly nothing was pending (autovacuum analyses it then, not during the burst).
await handle.script(`
  insert into ${schemaName}.outbox (id, organization_id, topic, key, type, envelope, published_at)
    select gen_random_uuid(), gen_random_uuid(), '${topic}', g::text, 'identity.user.created', '{}', now()
    from generate_series(1, ${small ? 2_000 : 50_000}) g;
  analyze ${schemaName}.outbox;
`);

const organizationId = newId();
const envelopes = Array.from({ length: events }, (_, i) =>
  createEvent(catalogue.identity.userCreated, {
    organizationId,
    subjectId: newId(),
    correlationId: `bench-${i}`,
    data: { email: `user${i}@example.com`, name: `User ${i}` },
  }),
);
for (let i = 0; i < envelopes.length; i += 1000) {
  await handle.db.insert(outbox).values(
    envelopes.slice(i, i + 1000).map((e) => ({
      id: e.id,
      organizationId,
      topic,
      key: e.subject.id,
      type: e.type,
      envelope: e,
    })),
  );
}

// Baseline: the same envelopes, produced directly.
const kafka = new Kafka({ clientId: 'bench-baseline', brokers, logLevel: 0 });
const producer = kafka.producer({ maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
await producer.send({ topic, messages: [{ key: 'warm', value: '{}' }], acks: -1 });
let t0 = performance.now();
for (let i = 0; i < envelopes.length; i += batchSize) {
  await producer.sendBatch({
    acks: -1,
    topicMessages: [
      {
        topic,
        messages: envelopes
          .slice(i, i + batchSize)
          .map((e) => ({ key: e.subject.id, value: JSON.stringify(e), headers: { 'event-type': e.type } })),
      },
    ],
  });
}
const baselineSeconds = (performance.now() - t0) / 1000;
await producer.disconnect();

const bus = new KafkaEventBus({ brokers, clientId: 'bench-relay', logger, topicPrefix: 'mauntic-bench' });
const relay = new OutboxRelay({ handle, context: 'identity', table: outbox, bus, logger, batchSize });
t0 = performance.now();
const published = await relay.drain();
const relaySeconds = (performance.now() - t0) / 1000;
await bus.stop();
const admin = kafka.admin();
await admin.connect();
await admin.deleteTopics({ topics: [topic] });
await admin.disconnect();
await handle.script(`drop schema ${schemaName} cascade`);
await handle.close();

if (published !== events) throw new Error(`relay published ${published} of ${events}`);
report('outbox', 'relay_events_per_s', events / relaySeconds, 'events/s', events / baselineSeconds);
