// The campaign context's tables, all in the `campaign` Postgres schema. Every row carries
// organization_id. Three groups: campaigns; their recipients (materialised once at launch, the
// fan-out's state, Postgres being the source of truth) and the outcomes delivery reported for
// them; and the copy of CRM's contacts and segment memberships the audience is read from.
import { outboxTables } from '@mauntic/platform/tables';
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import type { AbTest, Channel, Throttle, Utm, Variant } from '../domain/campaign.ts';
import type { CampaignStatus } from '../domain/lifecycle.ts';

export const campaign = pgSchema('campaign');

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

const oneOf = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

/** A broadcast: what it sends, to whom, when, and where its lifecycle stands. */
export const campaigns = campaign.table(
  'campaigns',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    channel: text('channel').$type<Channel>().notNull(),
    status: text('status').$type<CampaignStatus>().notNull().default('draft'),
    /** One variant, or 2 to 5 for an A/B test: { key: "A", templateId }. */
    variants: jsonb('variants').$type<Variant[]>().notNull().default([]),
    segmentIds: uuid('segment_ids').array().notNull().default(sql`'{}'::uuid[]`),
    excludedSegmentIds: uuid('excluded_segment_ids').array().notNull().default(sql`'{}'::uuid[]`),
    /** When it starts (null: when launched). For a send at a local time, the earliest zone's instant. */
    sendAt: timestamp('send_at', { withTimezone: true }),
    /** A wall-clock time ("2026-03-29T09:00") read in each contact's zone; null: one instant for all. */
    localSendAt: text('local_send_at'),
    /** The zone for contacts without one. */
    timezone: text('timezone').notNull().default('UTC'),
    throttle: jsonb('throttle').$type<Throttle | null>(),
    utm: jsonb('utm').$type<Utm | null>(),
    abTest: jsonb('ab_test').$type<AbTest | null>(),
    /** An A/B test's sample: how many recipients get a variant first, and when the last of them was handed over. */
    sampleSize: integer('sample_size'),
    sampleSentAt: timestamp('sample_sent_at', { withTimezone: true }),
    /** The A/B test's winner, once chosen (automatically or by hand), and each variant's score then. */
    scores: jsonb('scores').$type<Record<string, number> | null>(),
    winner: text('winner'),
    winnerDecidedAt: timestamp('winner_decided_at', { withTimezone: true }),
    /** How the recipients were chosen when materialised: how many, and when. */
    recipientCount: integer('recipient_count'),
    materialisedAt: timestamp('materialised_at', { withTimezone: true }),
    launchedAt: timestamp('launched_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    /** Recipients handed to delivery so far; the campaign completes when it and skipped_count reach recipient_count. */
    requestedCount: integer('requested_count').notNull().default(0),
    /** Recipients passed by because they left the audience before their turn (counted towards completion). */
    skippedCount: integer('skipped_count').notNull().default(0),
    /** Where the fan-out stands in (due_at, contact_id) order: every recipient before it was handed over. */
    cursorDueAt: timestamp('cursor_due_at', { withTimezone: true }),
    cursorContactId: uuid('cursor_contact_id'),
    /** The throttle's current window: when it began and how many requests went out in it. */
    windowStartedAt: timestamp('window_started_at', { withTimezone: true }),
    windowCount: integer('window_count').notNull().default(0),
    /** The correlation id of the launch, carried by every send request it makes. */
    correlationId: text('correlation_id'),
    /** The W3C trace context of the launch (tracing on): the fan-out's batches and their sends continue it. */
    traceParent: text('trace_parent'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check(
      'campaigns_status_check',
      oneOf('status', ['draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled']),
    ),
    check('campaigns_channel_check', oneOf('channel', ['email', 'sms', 'push'])),
    index('campaigns_organization_idx').on(t.organizationId, t.id),
    index('campaigns_active_idx').on(t.status).where(sql`status in ('scheduled', 'sending')`),
  ],
);

/**
 * A campaign's audience, written once, set-based, when it starts. `variant` is null for a
 * recipient of an A/B test's remainder until the winner is known. `requested_at` is set in the
 * transaction that writes its send request to the outbox: a recipient is handed over exactly once.
 */
export const recipients = campaign.table(
  'recipients',
  {
    campaignId: uuid('campaign_id').notNull(),
    contactId: uuid('contact_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    variant: text('variant'),
    /** When its message may go: the campaign's start, or the contact's local send time. */
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    requestedAt: timestamp('requested_at', { withTimezone: true }),
    /** When the fan-out passed it by: it had left the audience between the launch and its turn. */
    skippedAt: timestamp('skipped_at', { withTimezone: true }),
  },
  (t) => [
    primaryKey({ name: 'recipients_pkey', columns: [t.campaignId, t.contactId] }),
    // The fan-out's order: it walks each campaign's recipients by due time with a cursor, so it
    // never rescans the rows it handed over (nor their dead versions).
    index('recipients_fanout_idx').on(t.campaignId, t.dueAt, t.contactId),
  ],
);

/**
 * What delivery reported for a campaign's messages, one row per message, kind and detail (the
 * link of a click, "human" or "machine" for an open), with how many times: stats read uniques
 * and totals from it.
 */
export const outcomes = campaign.table(
  'outcomes',
  {
    campaignId: uuid('campaign_id').notNull(),
    messageId: uuid('message_id').notNull(),
    kind: text('kind').notNull(),
    detail: text('detail').notNull().default(''),
    organizationId: uuid('organization_id').notNull(),
    variant: text('variant').notNull(),
    contactId: uuid('contact_id'),
    count: integer('count').notNull().default(1),
    firstAt: timestamp('first_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ name: 'outcomes_pkey', columns: [t.campaignId, t.messageId, t.kind, t.detail] })],
);

/** CRM's contacts as the audience needs them: alive or not, their time zone, where not to contact them. */
export const contacts = campaign.table(
  'contacts',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    timezone: text('timezone'),
    /** Channels the contact must not be contacted on, with the reason: { "email": "unsubscribed" }. */
    dnc: jsonb('dnc').$type<Record<string, string | null>>().notNull().default({}),
    deleted: boolean('deleted').notNull().default(false),
    /** The time of the last snapshot applied: an older one arriving late is not applied. */
    updatedAt: updatedAt(),
  },
  (t) => [index('contacts_organization_idx').on(t.organizationId, t.id)],
);

export const segmentMemberships = campaign.table(
  'segment_memberships',
  {
    organizationId: uuid('organization_id').notNull(),
    segmentId: uuid('segment_id').notNull(),
    contactId: uuid('contact_id').notNull(),
  },
  (t) => [
    primaryKey({ name: 'segment_memberships_pkey', columns: [t.contactId, t.segmentId] }),
    index('segment_memberships_segment_idx').on(t.organizationId, t.segmentId, t.contactId),
  ],
);

/** Contacts who did an A/B test's conversion event after their message was requested, once per campaign. */
export const conversions = campaign.table(
  'conversions',
  {
    campaignId: uuid('campaign_id').notNull(),
    contactId: uuid('contact_id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    variant: text('variant').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ name: 'conversions_pkey', columns: [t.campaignId, t.contactId] })],
);

export const { outbox, processedEvents } = outboxTables(campaign);
