// The integrations context's tables, all in the `integrations` Postgres schema: the sources that
// send Segment-style calls (each with its write key, stored hashed) and the message ids each
// source has sent, which make a resent call a no-op.
import { outboxTables } from '@mauntic/platform/tables';
import { index, pgSchema, primaryKey, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';

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
