// The integrations context's tables, all in the `integrations` Postgres schema: the sources that
// send Segment-style calls (each with its write key, stored hashed) and the message ids each
// source has sent, which make a resent call a no-op.
import { outboxTables } from '@mauntic/platform/tables';
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  index,
  integer,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const integrations = pgSchema('integrations');

/** Where calls come from (a website, a backend): its write key authenticates them. */
export const sources = integrations.table(
  'sources',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    /** SHA-256 of the write key, hex: the key itself is shown once, when made. */
    writeKeyHash: text('write_key_hash').notNull(),
    /** Its first characters, so people can tell keys apart. */
    writeKeyPrefix: text('write_key_prefix').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('sources_write_key_hash_key').on(t.writeKeyHash),
    index('sources_organization_idx').on(t.organizationId, t.id),
  ],
);

/** Every messageId a source sent that was accepted: a second call with one is acknowledged, not applied. */
export const receivedMessages = integrations.table(
  'received_messages',
  {
    sourceId: uuid('source_id')
      .notNull()
      .references(() => sources.id, { onDelete: 'cascade' }),
    messageId: text('message_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    receivedAt: timestamp('received_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'received_messages_pkey', columns: [t.sourceId, t.messageId] }),
    index('received_messages_organization_idx').on(t.organizationId, t.receivedAt),
  ],
);

export const { outbox, processedEvents } = outboxTables(integrations);

/**
 * Outbound webhooks: URLs an organization subscribed to event types. The signing secret is sealed
 * (AES-256-GCM, bound to the organization and endpoint) since every delivery must be signed with
 * it; after a rotation the previous secret stays valid until `previousSecretExpiresAt`.
 */
export const webhookEndpoints = integrations.table(
  'webhook_endpoints',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    url: text('url').notNull(),
    description: text('description').notNull().default(''),
    eventTypes: text('event_types').array().notNull(),
    /** Only events whose data names one of these segments (crm.segment.*) or templates (delivery.*). */
    segmentIds: uuid('segment_ids').array().notNull().default(sql`'{}'::uuid[]`),
    templateIds: uuid('template_ids').array().notNull().default(sql`'{}'::uuid[]`),
    enabled: boolean('enabled').notNull().default(true),
    disabledReason: text('disabled_reason'),
    disabledAt: timestamp('disabled_at', { withTimezone: true }),
    secretSealed: text('secret_sealed').notNull(),
    secretPrefix: text('secret_prefix').notNull(),
    previousSecretSealed: text('previous_secret_sealed'),
    previousSecretExpiresAt: timestamp('previous_secret_expires_at', { withTimezone: true }),
    /** Deliveries to this endpoint in flight at once, across dispatchers. */
    maxConcurrency: integer('max_concurrency').notNull().default(4),
    /** Attempts that failed in a row, and when the first of them failed (null after a success). */
    consecutiveFailures: integer('consecutive_failures').notNull().default(0),
    failingSince: timestamp('failing_since', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('webhook_endpoints_organization_idx').on(t.organizationId, t.id)],
);

/**
 * One event for one endpoint: its exact body (what is signed), where it stands, and its last
 * attempt. Within an endpoint, deliveries of one ordering key (the event's subject, usually a
 * contact) go out in `seq` order: a later one waits while an earlier one is pending.
 */
export const webhookDeliveries = integrations.table(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey(),
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    organizationId: uuid('organization_id').notNull(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    eventId: uuid('event_id').notNull(),
    eventType: text('event_type').notNull(),
    orderingKey: text('ordering_key').notNull(),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
    body: text('body').notNull(),
    /** pending (to be tried), succeeded, failed (gave up after the retry window). */
    status: text('status').notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    /** Retries stop after this (3 days after the event was recorded, or after a replay). */
    retryUntil: timestamp('retry_until', { withTimezone: true }).notNull(),
    /** While set and in the future, one dispatcher is trying this delivery. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    lastStatusCode: integer('last_status_code'),
    lastError: text('last_error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_event_key').on(t.endpointId, t.eventId),
    // The claim walks due deliveries in this order and stops at its limit, whatever the backlog.
    index('webhook_deliveries_due_idx').on(t.nextAttemptAt, t.seq).where(sql`status = 'pending'`),
    // The claim's count of each endpoint's deliveries in flight: only leased rows.
    index('webhook_deliveries_leased_idx')
      .on(t.endpointId, t.leaseUntil)
      .where(sql`status = 'pending' and lease_until is not null`),
    index('webhook_deliveries_order_idx').on(t.endpointId, t.orderingKey, t.seq).where(sql`status = 'pending'`),
    index('webhook_deliveries_organization_idx').on(t.organizationId, t.endpointId, t.createdAt),
    // The retention's scan: settled deliveries, oldest first.
    index('webhook_deliveries_settled_idx').on(t.createdAt).where(sql`status <> 'pending'`),
  ],
);

/** The delivery log: every attempt with what the endpoint answered. */
export const webhookAttempts = integrations.table(
  'webhook_attempts',
  {
    deliveryId: uuid('delivery_id')
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    organizationId: uuid('organization_id').notNull(),
    statusCode: integer('status_code'),
    latencyMs: integer('latency_ms').notNull(),
    /** The response body's first KB. */
    response: text('response').notNull().default(''),
    error: text('error'),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }),
    attemptedAt: timestamp('attempted_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'webhook_attempts_pkey', columns: [t.deliveryId, t.attempt] })],
);
