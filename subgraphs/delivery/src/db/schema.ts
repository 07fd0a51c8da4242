// The delivery context's tables, all in the `delivery` Postgres schema. Every row carries
// organization_id and every index used by the API starts with it.
import { outboxTables } from '@mauntic/platform/tables';
import { sql } from 'drizzle-orm';
import {
  bigserial,
  boolean,
  date,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

export const delivery = pgSchema('delivery');

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

/** A message template: its authored source and the compiled form the engine renders from. */
export const templates = delivery.table(
  'templates',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    /** email | sms | push | webhook */
    channel: text('channel').notNull(),
    /** marketing (unsubscribe headers, suppression by unsubscribe) | transactional */
    category: text('category').notNull().default('marketing'),
    /** What the author wrote (MJML, subject, locale variants...), as saved. */
    source: jsonb('source').$type<Record<string, unknown>>().notNull(),
    /** Precompiled Handlebars specs and the tracked link list, made once on save. */
    compiled: jsonb('compiled').$type<Record<string, unknown>>().notNull(),
    version: integer('version').notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('templates_name_key').on(t.organizationId, t.name),
    index('templates_organization_idx').on(t.organizationId, t.id),
  ],
);

/** A sending provider of an organization; secret settings are AES-256-GCM encrypted. */
export const providers = delivery.table(
  'providers',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    kind: text('kind').notNull(),
    channel: text('channel').notNull(),
    /** Settings that may be shown (host, region, sender...). */
    settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
    /** Encrypted JSON of the secret settings (passwords, API keys); never returned by the API. */
    secrets: text('secrets'),
    isDefault: boolean('is_default').notNull().default(false),
    /** Messages per second this provider may be sent, across every engine; null: unlimited. */
    ratePerSecond: integer('rate_per_second'),
    failoverProviderId: uuid('failover_provider_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('providers_name_key').on(t.organizationId, t.name),
    uniqueIndex('providers_default_key').on(t.organizationId, t.channel).where(sql`is_default`),
    index('providers_organization_idx').on(t.organizationId, t.id),
  ],
);

/** Addresses (lower-cased emails, E.164 phones) that must not be sent to. */
export const suppressions = delivery.table(
  'suppressions',
  {
    id: uuid('id').notNull(),
    organizationId: uuid('organization_id').notNull(),
    /** email | sms */
    channel: text('channel').notNull(),
    address: text('address').notNull(),
    /** hard_bounce | complaint | unsubscribe | manual */
    reason: text('reason').notNull(),
    source: text('source'),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'suppressions_pkey', columns: [t.organizationId, t.channel, t.address] }),
    uniqueIndex('suppressions_id_key').on(t.id),
    index('suppressions_organization_idx').on(t.organizationId, t.id),
  ],
);

/** Per-organization sending policy. */
export const settings = delivery.table('settings', {
  organizationId: uuid('organization_id').primaryKey(),
  /** { email?: { max, periodSeconds }, sms?: ..., push?: ... } — marketing messages only. */
  frequencyCaps: jsonb('frequency_caps')
    .$type<Record<string, { max: number; periodSeconds: number }>>()
    .notNull()
    .default({}),
  /** { start: 'HH:MM', end: 'HH:MM', mode: 'defer' | 'drop' } in the contact's time zone, or null. */
  quietHours: jsonb('quiet_hours').$type<{ start: string; end: string; mode: 'defer' | 'drop' } | null>(),
  defaultFromName: text('default_from_name'),
  defaultFromAddress: text('default_from_address'),
  updatedAt: updatedAt(),
});

/**
 * A domain an organization sends email from. Its DNS records (domain/sending-domain.ts) are checked
 * when asked and daily; marketing email from a domain that is not verified is refused.
 */
export const sendingDomains = delivery.table(
  'sending_domains',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    /** Lower-case, no trailing dot. */
    domain: text('domain').notNull(),
    /** Where bounces return (VERP: bounces+<message id>@<return path domain>). */
    returnPathDomain: text('return_path_domain').notNull(),
    /** pending (never passed) | verified | failing (passed before, a record is now missing) */
    status: text('status').notNull().default('pending'),
    /** The last check of each record: { kind, name, ok, found }[]. */
    checks: jsonb('checks').$type<unknown[]>().notNull().default([]),
    checkedAt: timestamp('checked_at', { withTimezone: true }),
    verifiedAt: timestamp('verified_at', { withTimezone: true }),
    /** The IP pool its email leaves from; null: the organization's default pool, if any. */
    ipPoolId: uuid('ip_pool_id'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('sending_domains_domain_key').on(t.organizationId, t.domain),
    index('sending_domains_organization_idx').on(t.organizationId, t.id),
  ],
);

/**
 * A DKIM key of a sending domain. Keys come in pairs (RSA-2048 and Ed25519) of one generation;
 * the private key is AES-256-GCM sealed like provider secrets. A rotation adds a `pending`
 * generation (published, not signing); once its records verify it signs and the old one is
 * `retiring` (still published, for mail in flight) until `retire_at`, then `retired`.
 */
export const dkimKeys = delivery.table(
  'dkim_keys',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    domainId: uuid('domain_id').notNull(),
    generation: integer('generation').notNull(),
    selector: text('selector').notNull(),
    /** rsa-sha256 | ed25519-sha256 */
    algorithm: text('algorithm').notNull(),
    /** The p= value of the DNS record (base64). */
    publicKey: text('public_key').notNull(),
    /** Sealed PKCS#8 PEM; never returned by the API. */
    privateKey: text('private_key').notNull(),
    /** pending | active | retiring | retired */
    status: text('status').notNull(),
    retireAt: timestamp('retire_at', { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('dkim_keys_selector_key').on(t.domainId, t.selector),
    index('dkim_keys_domain_idx').on(t.organizationId, t.domainId),
  ],
);

/** A pool of sending IPs of an organization: a sending domain's email leaves from its pool's IPs. */
export const ipPools = delivery.table(
  'ip_pools',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    /** The pool of email whose sending domain names no pool (one per organization). */
    isDefault: boolean('is_default').notNull().default(false),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('ip_pools_name_key').on(t.organizationId, t.name),
    uniqueIndex('ip_pools_default_key').on(t.organizationId).where(sql`is_default`),
  ],
);

/**
 * An IP of a pool: picked by weight, within its warm-up caps (domain/warmup.ts) counted from its
 * start date. An address is in one pool of an organization at most.
 */
export const poolIps = delivery.table(
  'pool_ips',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    poolId: uuid('pool_id').notNull(),
    ip: text('ip').notNull(),
    weight: integer('weight').notNull().default(1),
    /** The warm-up curve ({ daily, growth, hourlyShare }); null: a warm IP, no caps. */
    warmup: jsonb('warmup').$type<{ daily: number[]; growth: number; hourlyShare: number } | null>(),
    /** Day 1 of its curve (UTC). */
    warmupStartedOn: date('warmup_started_on', { mode: 'string' }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('pool_ips_ip_key').on(t.organizationId, t.ip),
    index('pool_ips_pool_idx').on(t.organizationId, t.poolId),
  ],
);

/**
 * Penalty points against an IP or a sending domain of an organization (deferrals, sender-caused
 * bounces, complaints), decaying with time: `points` as they were at `updated_at`.
 */
export const sendingReputation = delivery.table(
  'sending_reputation',
  {
    organizationId: uuid('organization_id').notNull(),
    /** ip | domain */
    kind: text('kind').notNull(),
    /** The IP address or the domain name. */
    subject: text('subject').notNull(),
    points: doublePrecision('points').notNull(),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ name: 'sending_reputation_pkey', columns: [t.organizationId, t.kind, t.subject] })],
);

/**
 * Delivery's copy of CRM contacts, kept from crm.contact.* and crm.dnc.changed events, so the
 * engine renders and checks do-not-contact without calling CRM per message.
 */
export const contacts = delivery.table(
  'contacts',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    email: text('email'),
    phone: text('phone'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    locale: text('locale'),
    timezone: text('timezone'),
    fields: jsonb('fields').$type<Record<string, unknown>>().notNull().default({}),
    /** Channels the contact must not be contacted on. */
    doNotContact: text('do_not_contact').array().notNull().default(sql`'{}'::text[]`),
    /** Push device tokens, registered through the API. */
    pushTokens: text('push_tokens').array().notNull().default(sql`'{}'::text[]`),
    updatedAt: updatedAt(),
    /** Set when CRM deleted or erased the contact: personal data is gone and late events cannot bring it back. */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [index('contacts_organization_idx').on(t.organizationId, t.id)],
);

/**
 * One message to one recipient. The row is the unit of exactly-once: it is created once per
 * (organization, idempotency key), claimed by one engine with a lease, and marked sent once.
 */
export const messages = delivery.table(
  'messages',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    channel: text('channel').notNull(),
    templateId: uuid('template_id'),
    contactId: uuid('contact_id'),
    /** Email address, E.164 phone, device token or a webhook template's URL; empty when there was none. */
    address: text('address').notNull(),
    /** transactional | campaign | journey */
    sourceKind: text('source_kind').notNull(),
    sourceId: text('source_id'),
    sourceStepId: text('source_step_id'),
    /** Per-send template variables. */
    context: jsonb('context').$type<Record<string, unknown>>().notNull().default({}),
    /** The W3C trace context of the request that queued it (tracing on): the engine's send span joins that trace. */
    traceParent: text('trace_parent'),
    /** queued | sending | sent | delivered | opened | clicked | bounced | complained | failed | skipped */
    status: text('status').notNull().default('queued'),
    /**
     * Why a message failed or was skipped (suppressed, do_not_contact, frequency_cap, quiet_hours,
     * and for a request that could not become a sendable message: no_address, unknown_contact...).
     */
    error: text('error'),
    attempts: integer('attempts').notNull().default(0),
    /** Not to be sent before this time (quiet hours, retry backoff). */
    notBefore: timestamp('not_before', { withTimezone: true }).notNull().defaultNow(),
    leaseOwner: text('lease_owner'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    providerId: uuid('provider_id'),
    providerMessageId: text('provider_message_id'),
    /** True when the engine died after handing the message over and before the reply was read. */
    unconfirmed: boolean('unconfirmed').notNull().default(false),
    opens: integer('opens').notNull().default(0),
    clicks: integer('clicks').notNull().default(0),
    machineOpens: integer('machine_opens').notNull().default(0),
    machineClicks: integer('machine_clicks').notNull().default(0),
    queuedAt: timestamp('queued_at', { withTimezone: true }).notNull().defaultNow(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    openedAt: timestamp('opened_at', { withTimezone: true }),
    clickedAt: timestamp('clicked_at', { withTimezone: true }),
    bouncedAt: timestamp('bounced_at', { withTimezone: true }),
    /** Why its last bounce came back (domain/bounce.ts reasons): dead address, sender-caused or transient. */
    bounceReason: text('bounce_reason'),
    /** The pool IP it left from (the SMTP local address): its bounces and complaints count against it. */
    sendingIp: text('sending_ip'),
    /** The sending domain it was sent from, when it was from one: its bounces count against it too. */
    sendingDomain: text('sending_domain'),
    complainedAt: timestamp('complained_at', { withTimezone: true }),
    failedAt: timestamp('failed_at', { withTimezone: true }),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('messages_idempotency_key').on(t.organizationId, t.idempotencyKey),
    index('messages_organization_idx').on(t.organizationId, t.id),
    index('messages_template_idx').on(t.organizationId, t.templateId),
    index('messages_contact_idx').on(t.contactId, t.sentAt),
    index('messages_pending_idx').on(t.notBefore).where(sql`status = 'queued'`),
    index('messages_leased_idx').on(t.leaseUntil).where(sql`status = 'sending'`),
  ],
);

/**
 * Send requests for a contact delivery has not heard of yet (journeys and integrators send right
 * after creating one, and CRM's event may come second): held until the contact arrives through the
 * contacts copy, which turns them into messages, or until `deadline`, when they end as skipped
 * messages (unknown_contact).
 */
export const pendingRequests = delivery.table(
  'pending_requests',
  {
    organizationId: uuid('organization_id').notNull(),
    idempotencyKey: text('idempotency_key').notNull(),
    contactId: uuid('contact_id').notNull(),
    /** The request's data, as delivery.message.requested carried it. */
    request: jsonb('request').$type<Record<string, unknown>>().notNull(),
    correlationId: text('correlation_id').notNull(),
    deadline: timestamp('deadline', { withTimezone: true }).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'pending_requests_pkey', columns: [t.organizationId, t.idempotencyKey] }),
    index('pending_requests_contact_idx').on(t.organizationId, t.contactId),
    index('pending_requests_deadline_idx').on(t.deadline),
  ],
);

/** Opens, clicks, bounces... as they happened, for stats and audit. */
export const messageEvents = delivery.table(
  'message_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    messageId: uuid('message_id').notNull(),
    type: text('type').notNull(),
    machine: boolean('machine').notNull().default(false),
    url: text('url'),
    userAgent: text('user_agent'),
    detail: text('detail'),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('message_events_message_idx').on(t.organizationId, t.messageId)],
);

/** Embedded mode's default email provider: every message kept to be read at /outbox. */
export const localOutbox = delivery.table(
  'local_outbox',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    messageId: uuid('message_id').notNull(),
    fromAddress: text('from_address').notNull(),
    toAddress: text('to_address').notNull(),
    subject: text('subject').notNull(),
    html: text('html').notNull(),
    text: text('text').notNull(),
    headers: jsonb('headers').$type<Record<string, string>>().notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('local_outbox_message_key').on(t.messageId)],
);

export const { outbox, processedEvents } = outboxTables(delivery);
