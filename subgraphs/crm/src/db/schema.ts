// The CRM context's tables, all in the `crm` Postgres schema. Every row carries
// organization_id and every index starts with it.
import { outboxTables } from '@mauntic/platform/tables';
import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  customType,
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

export const crm = pgSchema('crm');

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();

export const contacts = crm.table(
  'contacts',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    email: text('email'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    /** E.164 */
    phone: text('phone'),
    timezone: text('timezone'),
    locale: text('locale'),
    /** A user of identity (federation reference). */
    ownerId: uuid('owner_id'),
    stageId: uuid('stage_id'),
    points: integer('points').notNull().default(0),
    /** Custom field values by field key, in each type's canonical JSON form. */
    fields: jsonb('fields').$type<Record<string, unknown>>().notNull().default({}),
    /** Tag names, lower-cased. */
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
    lastActiveAt: timestamp('last_active_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('contacts_email_key').on(t.organizationId, sql`lower(${t.email})`).where(sql`${t.email} is not null`),
    index('contacts_organization_idx').on(t.organizationId, t.id),
    index('contacts_tags_idx').using('gin', t.tags),
    // Segment conditions on custom fields test containment (@>) only, which jsonb_path_ops answers
    // with one hashed entry per value, a smaller and cheaper index to keep up than jsonb_ops.
    index('contacts_fields_idx').using('gin', t.fields.op('jsonb_path_ops')),
  ],
);

export const companies = crm.table(
  'companies',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    domain: text('domain'),
    fields: jsonb('fields').$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('companies_organization_idx').on(t.organizationId, t.id)],
);

export const contactCompanies = crm.table(
  'contact_companies',
  {
    organizationId: uuid('organization_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    companyId: uuid('company_id')
      .notNull()
      .references(() => companies.id, { onDelete: 'cascade' }),
    isPrimary: boolean('is_primary').notNull().default(false),
  },
  (t) => [
    primaryKey({ name: 'contact_companies_pkey', columns: [t.contactId, t.companyId] }),
    index('contact_companies_company_idx').on(t.companyId),
    uniqueIndex('contact_companies_one_primary').on(t.contactId).where(sql`${t.isPrimary}`),
  ],
);

export const fieldDefinitions = crm.table(
  'field_definitions',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    entity: text('entity').$type<'contact' | 'company'>().notNull(),
    key: text('key').notNull(),
    label: text('label').notNull(),
    type: text('type').notNull(),
    options: jsonb('options').$type<{ scale?: number; choices?: string[] }>().notNull().default({}),
    required: boolean('required').notNull().default(false),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('field_definitions_key').on(t.organizationId, t.entity, t.key)],
);

export const stages = crm.table(
  'stages',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    position: integer('position').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('stages_name_key').on(t.organizationId, t.name)],
);

export const doNotContact = crm.table(
  'do_not_contact',
  {
    organizationId: uuid('organization_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    channel: text('channel').$type<'email' | 'sms' | 'push'>().notNull(),
    reason: text('reason').$type<'unsubscribed' | 'bounced' | 'complaint' | 'manual'>().notNull(),
    source: text('source'),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ name: 'do_not_contact_pkey', columns: [t.contactId, t.channel] })],
);

/**
 * The ids other systems know a contact by: a Segment source's userId (the integrator's own id for
 * the person) or anonymousId (a browser or device before it is identified).
 */
export const contactIdentities = crm.table(
  'contact_identities',
  {
    organizationId: uuid('organization_id').notNull(),
    kind: text('kind').$type<'user' | 'anonymous'>().notNull(),
    value: text('value').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ name: 'contact_identities_pkey', columns: [t.organizationId, t.kind, t.value] }),
    index('contact_identities_contact_idx').on(t.contactId),
  ],
);

/** What contacts did, from CRM and from other contexts' events: the timeline and behavioural filters read it. */
export const activities = crm.table(
  'activities',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    contactId: uuid('contact_id').notNull(),
    /** e.g. email.opened, email.clicked, form.submitted, page.visited, event, contact.updated */
    type: text('type').notNull(),
    /** What it was about: an email id, a form id, a URL, a custom event name. */
    subject: text('subject'),
    properties: jsonb('properties').$type<Record<string, unknown>>().notNull().default({}),
    occurredAt: timestamp('occurred_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    index('activities_contact_idx').on(t.organizationId, t.contactId, t.occurredAt),
    index('activities_type_idx').on(t.organizationId, t.type, t.subject, t.occurredAt),
  ],
);

export const segments = crm.table(
  'segments',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    kind: text('kind').$type<'dynamic' | 'static'>().notNull(),
    /** The filter tree (dynamic segments). */
    filter: jsonb('filter'),
    /** A category of the organization's (Mautic's categories), to organise segment lists. */
    categoryId: uuid('category_id').references(() => categories.id, { onDelete: 'set null' }),
    memberCount: integer('member_count').notNull().default(0),
    rebuiltAt: timestamp('rebuilt_at', { withTimezone: true }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('segments_organization_idx').on(t.organizationId, t.id)],
);

export const segmentMembers = crm.table(
  'segment_members',
  {
    organizationId: uuid('organization_id').notNull(),
    segmentId: uuid('segment_id')
      .notNull()
      .references(() => segments.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    addedAt: timestamp('added_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'segment_members_pkey', columns: [t.segmentId, t.contactId] }),
    index('segment_members_contact_idx').on(t.contactId),
  ],
);

/**
 * Who belongs to which organization, as identity announces it (identity.member.added): CRM
 * checks the users its rows refer to (a contact's owner) against it, without reading identity's
 * schema.
 */
export const organizationMembers = crm.table(
  'organization_members',
  {
    organizationId: uuid('organization_id').notNull(),
    userId: uuid('user_id').notNull(),
    /** When identity added the member (the event's occurredAt). */
    addedAt: timestamp('added_at', { withTimezone: true }).notNull(),
  },
  (t) => [primaryKey({ name: 'organization_members_pkey', columns: [t.organizationId, t.userId] })],
);

export const { outbox, processedEvents } = outboxTables(crm);

/** A CSV import of contacts: its mapping and its progress, updated per batch. */
export const contactImports = crm.table(
  'contact_imports',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    status: text('status').$type<'queued' | 'running' | 'completed' | 'failed'>().notNull(),
    /** CSV column -> contact field (`email`, `firstName`, `fields.plan`...). */
    mapping: jsonb('mapping').$type<Record<string, string>>().notNull(),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    totalBytes: bigint('total_bytes', { mode: 'number' }),
    bytesRead: bigint('bytes_read', { mode: 'number' }).notNull().default(0),
    rowsDone: integer('rows_done').notNull().default(0),
    rowsFailed: integer('rows_failed').notNull().default(0),
    rowsCreated: integer('rows_created').notNull().default(0),
    rowsUpdated: integer('rows_updated').notNull().default(0),
    /** Why the whole import failed (row problems go to contact_import_errors). */
    error: text('error'),
    createdAt: createdAt(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('contact_imports_organization_idx').on(t.organizationId, t.id)],
);

/** Rows an import rejected, with why and what they held. */
export const contactImportErrors = crm.table(
  'contact_import_errors',
  {
    organizationId: uuid('organization_id').notNull(),
    importId: uuid('import_id')
      .notNull()
      .references(() => contactImports.id, { onDelete: 'cascade' }),
    /** 1 for the first data row after the header. */
    rowNumber: integer('row_number').notNull(),
    messages: text('messages').array().notNull(),
    raw: text('raw').notNull(),
  },
  (t) => [primaryKey({ name: 'contact_import_errors_pkey', columns: [t.importId, t.rowNumber] })],
);

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/** An uploaded CSV between the request and the import job, in ~1 MB pieces (no shared disk needed). */
export const importChunks = crm.table(
  'import_chunks',
  {
    organizationId: uuid('organization_id').notNull(),
    importId: uuid('import_id')
      .notNull()
      .references(() => contactImports.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ name: 'import_chunks_pkey', columns: [t.importId, t.seq] })],
);

export const notes = crm.table(
  'notes',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    type: text('type').$type<'general' | 'email' | 'call' | 'meeting'>().notNull(),
    body: text('body').notNull(),
    /** A user of identity. */
    createdBy: uuid('created_by'),
    createdAt: createdAt(),
  },
  (t) => [index('notes_contact_idx').on(t.organizationId, t.contactId)],
);

/**
 * Rules that change a contact's points when something lands on its timeline. How often a rule
 * has applied to a contact is read from the `points.changed` activities it wrote (subject: the
 * rule's id), so merges carry it over with the rest of the history.
 */
export const pointRules = crm.table(
  'point_rules',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    /** A trigger from POINT_TRIGGERS, e.g. delivery.message.opened or custom. */
    eventType: text('event_type').notNull(),
    /** For `custom`: the custom event's name (exact match). */
    customName: text('custom_name'),
    delta: integer('delta').notNull(),
    /** At most this many applications per contact; null for no limit. */
    maxPerContact: integer('max_per_contact'),
    active: boolean('active').notNull().default(true),
    /** The point group whose score the rule changes; null: the contact's default score (`points`). */
    groupId: uuid('group_id').references(() => pointGroups.id, { onDelete: 'cascade' }),
    /**
     * Only this occurrence: a template id (delivery events), a form id (form submissions), or a
     * URL pattern with `*` wildcards (page visits); null: any.
     */
    subject: text('subject'),
    /** For `custom`: only events whose property `propertyName` equals `propertyValue` (as text). */
    propertyName: text('property_name'),
    propertyValue: text('property_value'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('point_rules_trigger_idx').on(t.organizationId, t.eventType)],
);

/** Separate scores besides the default one ("product interest", "engagement"), Mautic's point groups. */
export const pointGroups = crm.table(
  'point_groups',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('point_groups_name_key').on(t.organizationId, t.name)],
);

/** A contact's score in a point group (no row: 0). */
export const contactGroupPoints = crm.table(
  'contact_group_points',
  {
    organizationId: uuid('organization_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    groupId: uuid('group_id')
      .notNull()
      .references(() => pointGroups.id, { onDelete: 'cascade' }),
    points: integer('points').notNull().default(0),
  },
  (t) => [
    primaryKey({ name: 'contact_group_points_pkey', columns: [t.contactId, t.groupId] }),
    index('contact_group_points_group_idx').on(t.organizationId, t.groupId, t.points),
  ],
);

/** What a point trigger does when a contact's score reaches its threshold. */
export type PointTriggerAction =
  | { type: 'add_tags'; tags: string[] }
  | { type: 'change_stage'; stageId: string }
  | { type: 'add_to_segment'; segmentId: string }
  | { type: 'enroll_in_journey'; journeyId: string }
  /** An email template sent to a member's address. */
  | { type: 'notify_email'; target: string; templateId: string }
  /** A webhook template (it names its URL) about the contact. */
  | { type: 'notify_webhook'; templateId: string };

/** "When the score (of a group) reaches N, do this", Mautic's point triggers. */
export const pointTriggers = crm.table(
  'point_triggers',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    /** The group whose score is watched; null: the default score. */
    groupId: uuid('group_id').references(() => pointGroups.id, { onDelete: 'cascade' }),
    threshold: integer('threshold').notNull(),
    action: jsonb('action').$type<PointTriggerAction>().notNull(),
    /** Fire at every upward crossing of the threshold, not only the first. */
    repeat: boolean('repeat').notNull().default(false),
    active: boolean('active').notNull().default(true),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('point_triggers_group_idx').on(t.organizationId, t.groupId, t.threshold)],
);

/** How often a trigger fired for a contact: what keeps a one-time trigger at once. */
export const pointTriggerFires = crm.table(
  'point_trigger_fires',
  {
    organizationId: uuid('organization_id').notNull(),
    triggerId: uuid('trigger_id')
      .notNull()
      .references(() => pointTriggers.id, { onDelete: 'cascade' }),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    fires: integer('fires').notNull().default(1),
    lastFiredAt: timestamp('last_fired_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: 'point_trigger_fires_pkey', columns: [t.triggerId, t.contactId] })],
);

/** A contact's stage history: every move, from where, to where, when and why. */
export const stageChanges = crm.table(
  'stage_changes',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    contactId: uuid('contact_id')
      .notNull()
      .references(() => contacts.id, { onDelete: 'cascade' }),
    fromStageId: uuid('from_stage_id'),
    toStageId: uuid('to_stage_id'),
    reason: text('reason').$type<'manual' | 'trigger' | 'journey' | 'import' | 'merge'>().notNull(),
    /** Who moved it: a user or API key id, `point-trigger:<id>`, or the journey requests' caller. */
    actor: text('actor'),
    changedAt: timestamp('changed_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('stage_changes_contact_idx').on(t.organizationId, t.contactId, t.changedAt)],
);

/** Mautic's categories: labels that organise segments (and filter their lists). */
export const categories = crm.table(
  'categories',
  {
    id: uuid('id').primaryKey(),
    organizationId: uuid('organization_id').notNull(),
    name: text('name').notNull(),
    color: text('color'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('categories_name_key').on(t.organizationId, t.name)],
);
