// The journey context's tables, all in the `journey` Postgres schema. Every row carries
// organization_id and every index used by the API starts with it. Three groups: journeys and their
// immutable versions; runs and their step log (the executor's state, Postgres being the source of
// truth); and the copies of other contexts' data the journeys read, kept from their events.
import { outboxTables } from '@mauntic/platform/tables';
import { sql } from 'drizzle-orm';
import {
  boolean,
  check,
  foreignKey,
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
import type { Channel, DncChannel } from '../domain/definition.ts';
import type { JourneyStatus } from '../domain/lifecycle.ts';

export const journey = pgSchema('journey');

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const RUN_STATES = ['ready', 'waiting', 'completed', 'converted', 'exited', 'failed'] as const;
export type RunState = (typeof RUN_STATES)[number];
export const STEP_STATUSES = ['completed', 'failed', 'skipped'] as const;
export type StepStatus = (typeof STEP_STATUSES)[number];

const oneOf = (column: string, values: readonly string[]) =>
  sql.raw(`${column} in (${values.map((v) => `'${v}'`).join(', ')})`);

/** A journey: its draft definition (edited freely, valid or not) and where its lifecycle stands. */
export const journeys = journey.table(
  'journeys',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    status: text('status').$type<JourneyStatus>().notNull().default('draft'),
    /** The draft: what the next publish snapshots. May be invalid (its issues are reported). */
    definition: jsonb('definition').$type<unknown>().notNull(),
    /** The newest published version, which new runs enter; null until the first publish. */
    currentVersionId: uuid('current_version_id'),
    /** Its number (0 before the first publish). */
    version: integer('version').notNull().default(0),
    /** The newest version's entry triggers as keys (see entryKeys): which events start runs. */
    entryKeys: text('entry_keys').array().notNull().default(sql`'{}'::text[]`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check('journeys_status_check', oneOf('status', ['draft', 'active', 'paused', 'archived'])),
    index('journeys_organization_idx').on(t.organizationId, t.id),
    index('journeys_entry_keys_idx').using('gin', t.entryKeys),
  ],
);

/** A published version: the definition as it was published, never changed afterwards. */
export const journeyVersions = journey.table(
  'journey_versions',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    journeyId: uuid('journey_id').notNull(),
    version: integer('version').notNull(),
    definition: jsonb('definition').$type<unknown>().notNull(),
    /** The member who published it, when one did. */
    publishedBy: uuid('published_by'),
    publishedAt: timestamp('published_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    foreignKey({
      name: 'journey_versions_journey_fkey',
      columns: [t.journeyId],
      foreignColumns: [journeys.id],
    }).onDelete('cascade'),
    uniqueIndex('journey_versions_journey_version_key').on(t.journeyId, t.version),
    index('journey_versions_organization_idx').on(t.organizationId, t.journeyId, t.version),
  ],
);

/**
 * One contact walking one version of a journey. `ready` runs are due now, `waiting` ones at
 * `due_at` (a delay or a wait's timeout) or on an event described by `wait`; the others ended.
 * An executor holds a run it claimed until `lease_until`.
 */
export const runs = journey.table(
  'runs',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    journeyId: uuid('journey_id').notNull(),
    versionId: uuid('version_id').notNull(),
    contactId: uuid('contact_id').notNull(),
    state: text('state').$type<RunState>().notNull().default('ready'),
    /** The step the run is at (the one it ended at, once ended). */
    stepId: text('step_id').notNull(),
    /** How many times the run has come to this step (loops through a wait come back). */
    visit: integer('visit').notNull().default(1),
    dueAt: timestamp('due_at', { withTimezone: true }),
    /** What a waiting run waits for besides its due time (an event), as the executor describes it. */
    wait: jsonb('wait').$type<Record<string, unknown>>(),
    /** The trigger's data and what steps added: templates read it. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    enteredAt: timestamp('entered_at', { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    leaseOwner: text('lease_owner'),
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    /**
     * The W3C trace context of the work that entered the run (tracing on): each walk of the run,
     * however much later, and the sends it requests continue that trace.
     */
    traceParent: text('trace_parent'),
  },
  (t) => [
    check('runs_state_check', oneOf('state', RUN_STATES)),
    foreignKey({ name: 'runs_journey_fkey', columns: [t.journeyId], foreignColumns: [journeys.id] }).onDelete(
      'cascade',
    ),
    foreignKey({ name: 'runs_version_fkey', columns: [t.versionId], foreignColumns: [journeyVersions.id] }).onDelete(
      'cascade',
    ),
    // The sweeper reads only the due rows of this index, never the whole waiting set.
    index('runs_due_idx').on(t.dueAt).where(sql`state = 'waiting'`),
    index('runs_ready_idx').on(t.id).where(sql`state = 'ready'`),
    index('runs_organization_idx').on(t.organizationId, t.id),
    index('runs_journey_idx').on(t.organizationId, t.journeyId, t.id),
    index('runs_contact_idx').on(t.organizationId, t.contactId, t.id),
  ],
);

/**
 * What each step did for a run, once per (run, step, visit): the primary key is what makes a step
 * execute exactly once, however often its trigger is delivered or its run re-claimed.
 */
export const stepLog = journey.table(
  'step_log',
  {
    runId: uuid('run_id').notNull(),
    stepId: text('step_id').notNull(),
    visit: integer('visit').notNull(),
    organizationId: uuid('organization_id').notNull(),
    /** The run's journey, so per-step counts read this table alone. */
    journeyId: uuid('journey_id').notNull(),
    status: text('status').$type<StepStatus>().notNull(),
    /** What happened: the message requested, the branch taken, why it was skipped... */
    outcome: jsonb('outcome').$type<Record<string, unknown>>().notNull().default({}),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'step_log_pkey', columns: [t.runId, t.stepId, t.visit] }),
    check('step_log_status_check', oneOf('status', STEP_STATUSES)),
    foreignKey({ name: 'step_log_run_fkey', columns: [t.runId], foreignColumns: [runs.id] }).onDelete('cascade'),
    index('step_log_journey_idx').on(t.organizationId, t.journeyId, t.stepId),
  ],
);

/**
 * Entry-rule keys: a contact enters a journey once per key (`once`: one key ever; `oncePer`: one
 * per period; `oneActive`: one while a run is active), so a repeated trigger inserts nothing.
 */
export const entries = journey.table(
  'entries',
  {
    journeyId: uuid('journey_id').notNull(),
    contactId: uuid('contact_id').notNull(),
    periodKey: text('period_key').notNull(),
    organizationId: uuid('organization_id').notNull(),
    runId: uuid('run_id').notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'entries_pkey', columns: [t.journeyId, t.contactId, t.periodKey] }),
    foreignKey({ name: 'entries_journey_fkey', columns: [t.journeyId], foreignColumns: [journeys.id] }).onDelete(
      'cascade',
    ),
  ],
);

// --- what the journeys read of other contexts, kept from their events ---------------------------

/**
 * CRM's contacts as conditions, time zones and updates need them, from crm.contact.*, crm.dnc.changed
 * and crm.points.changed. Deleted (or merged away) contacts stay as tombstones without personal data,
 * so a late event cannot bring them back.
 */
export const contacts = journey.table(
  'contacts',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    email: text('email'),
    phone: text('phone'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    timezone: text('timezone'),
    locale: text('locale'),
    fields: jsonb('fields').$type<Record<string, unknown>>().notNull().default({}),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    points: integer('points').notNull().default(0),
    stageId: uuid('stage_id'),
    ownerId: uuid('owner_id'),
    /** Channels the contact must not be contacted on, with the reason: { "email": "unsubscribed" }. */
    dnc: jsonb('dnc').$type<Partial<Record<DncChannel, string | null>>>().notNull().default({}),
    deleted: boolean('deleted').notNull().default(false),
    /** When CRM created the contact (its created event), for date triggers on createdAt. */
    createdAt: timestamp('created_at', { withTimezone: true }),
    /** The time of the last snapshot applied: an older one arriving late is not applied. */
    updatedAt: updatedAt(),
  },
  (t) => [index('contacts_organization_idx').on(t.organizationId, t.id)],
);

/** Who is in which CRM segment, from crm.segment.entered / exited. */
export const segmentMemberships = journey.table(
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

/** CRM's segments a definition may name, with their kind (only static ones take add/remove). */
export const segments = journey.table(
  'segments',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    kind: text('kind').$type<'dynamic' | 'static'>().notNull(),
    deleted: boolean('deleted').notNull().default(false),
    updatedAt: updatedAt(),
  },
  (t) => [index('segments_organization_idx').on(t.organizationId, t.id)],
);

/** Delivery's templates a send step may name, with their channel. */
export const templates = journey.table(
  'templates',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    channel: text('channel').$type<Channel>().notNull(),
    deleted: boolean('deleted').notNull().default(false),
    updatedAt: updatedAt(),
  },
  (t) => [index('templates_organization_idx').on(t.organizationId, t.id)],
);

/** CRM's custom contact fields a definition may name (`fields.<key>`), with their type. */
export const customFields = journey.table(
  'custom_fields',
  {
    organizationId: uuid('organization_id').notNull(),
    key: text('key').notNull(),
    type: text('type').notNull(),
    deleted: boolean('deleted').notNull().default(false),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ name: 'custom_fields_pkey', columns: [t.organizationId, t.key] })],
);

/**
 * What contacts did, as CRM's timeline records it, for behaviour conditions: custom events
 * (`event`), form submissions, page visits and delivery's message events (`email.sent`,
 * `email.opened`, `email.clicked.machine`...), one row per event (its id), from
 * activity-projection.ts. Rows age out on write: applying a contact's activity of a type deletes
 * that contact's rows of that type older than ACTIVITY_RETENTION_DAYS.
 */
export const activities = journey.table(
  'activities',
  {
    /** The event the activity came from. */
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    contactId: uuid('contact_id').notNull(),
    type: text('type').notNull(),
    /** What it was about: a template id, a form id, a URL, a custom event name. */
    subject: text('subject'),
    properties: jsonb('properties').$type<Record<string, unknown>>().notNull().default({}),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
  },
  // "How many activities of (contact, type) since t": one range of this index per contact and type.
  (t) => [index('activities_contact_type_idx').on(t.contactId, t.type, t.occurredAt)],
);

/** Each contact's last behaviour (CRM's lastActiveAt), kept apart from activities, which age out. */
export const lastActivity = journey.table('last_activity', {
  contactId: uuid('contact_id').primaryKey(),
  organizationId: uuid('organization_id').notNull(),
  at: timestamp('at', { withTimezone: true }).notNull(),
});

/**
 * CRM's companies, for company conditions, from crm.company.*. A deleted company stays as a
 * tombstone without its values, so a late event cannot bring it back; the lists that still name
 * it (CRM publishes no new list for its contacts) skip it.
 */
export const companies = journey.table(
  'companies',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    domain: text('domain'),
    fields: jsonb('fields').$type<Record<string, unknown>>().notNull().default({}),
    deleted: boolean('deleted').notNull().default(false),
    /** The time of the last event applied: an older one arriving late is not applied. */
    updatedAt: updatedAt(),
  },
  (t) => [index('companies_organization_idx').on(t.organizationId, t.id)],
);

/**
 * Each contact's companies, from crm.contact.companies-changed: one row per contact holding its
 * full list as the newest event gave it (an empty list once it has none).
 */
export const contactCompanies = journey.table('contact_companies', {
  contactId: uuid('contact_id').primaryKey(),
  organizationId: uuid('organization_id').notNull(),
  companyIds: uuid('company_ids').array().notNull(),
  primaryCompanyId: uuid('primary_company_id'),
  /** The time of the list applied: an older one arriving late is not applied. */
  updatedAt: updatedAt(),
});

export const { outbox, processedEvents } = outboxTables(journey);
