// The two tables every context keeps in its own schema: `outbox` (events committed with the
// state change that caused them) and `processed_events` (ids of events a consumer applied).
import { sql } from 'drizzle-orm';
import {
  bigserial,
  index,
  json,
  type PgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export function outboxTables(schema: PgSchema) {
  const outbox = schema.table(
    'outbox',
    {
      seq: bigserial('seq', { mode: 'number' }).primaryKey(),
      id: uuid('id').notNull(),
      organizationId: uuid('organization_id').notNull(),
      topic: text('topic').notNull(),
      key: text('key').notNull(),
      type: text('type').notNull(),
      /**
       * The event as JSON text: written once, read once by the relay, never queried inside, so
       * it is stored as written rather than parsed into jsonb.
       */
      envelope: json('envelope').notNull(),
      createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
      /** A relay that claimed the row and has until then to publish it; after, another may. */
      claimedUntil: timestamp('claimed_until', { withTimezone: true }),
      publishedAt: timestamp('published_at', { withTimezone: true }),
    },
    (t) => [
      uniqueIndex('outbox_id_key').on(t.id),
      index('outbox_unpublished_idx').on(t.seq).where(sql`published_at is null`),
    ],
  );

  const processedEvents = schema.table(
    'processed_events',
    {
      consumer: text('consumer').notNull(),
      eventId: uuid('event_id').notNull(),
      organizationId: uuid('organization_id').notNull(),
      processedAt: timestamp('processed_at', { withTimezone: true }).notNull().defaultNow(),
    },
    (t) => [primaryKey({ name: 'processed_events_pkey', columns: [t.consumer, t.eventId] })],
  );

  return { outbox, processedEvents };
}

export type OutboxTable = ReturnType<typeof outboxTables>['outbox'];
export type ProcessedEventsTable = ReturnType<typeof outboxTables>['processedEvents'];
