// The contact a run walks with: the journey context's copy of it, as a mutable value for the
// walk, so a condition after an update contact or segment step sees the change it asked for; and
// loadContacts, which reads what a batch of runs needs of its contacts, one query per kind for
// the whole batch: the contacts, their segment memberships, their companies, their last activity,
// and the activity the batch's behaviour conditions count (only their types, only as far back as
// they look).
import type { Executor } from '@mauntic/platform';
import { and, eq, gte, inArray, not, or, type SQL, sql } from 'drizzle-orm';
import {
  activities,
  companies,
  contactCompanies,
  contacts,
  lastActivity,
  segmentMemberships,
} from '../../db/schema.ts';
import type { DncChannel, JourneyDefinition } from '../../domain/definition.ts';
import { keepsActivityType } from '../activity-projection.ts';
import { type Activity, type ActivityHistory, activityNeeds } from './behavior-filter.ts';
import type { CompanyValues, FilterSubject } from './contact-filter.ts';
import type { ContactRow } from './run-state.ts';

export interface ContactState extends FilterSubject {
  /** False when the journey context has no copy of the contact (yet). */
  known: boolean;
  deleted: boolean;
  timezone: string | null;
  tags: string[];
  dnc: Partial<Record<DncChannel, string | null>>;
  segments: Set<string>;
  /** Applies an update contact step's changes. */
  apply(change: ContactChange): void;
}

export interface ContactChange {
  set?: Record<string, unknown>;
  addTags?: string[];
  removeTags?: string[];
  points?: number;
  stageId?: string | null;
  ownerId?: string | null;
  dnc?: { channel: DncChannel; value: boolean };
}

const STANDARD: Record<string, keyof ContactRow> = {
  email: 'email',
  firstName: 'firstName',
  lastName: 'lastName',
  phone: 'phone',
  timezone: 'timezone',
  locale: 'locale',
  points: 'points',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  owner: 'ownerId',
  ownerId: 'ownerId',
  stage: 'stageId',
  stageId: 'stageId',
};

/**
 * The contact as the walk sees it. Without `activity` (a caller that did not load it), behaviour
 * conditions and lastActiveAt report themselves unsupported; without `companies`, company conditions.
 */
export function contactState(
  row: ContactRow | undefined,
  segments: Iterable<string>,
  activity?: ActivityHistory,
  companies?: readonly CompanyValues[],
): ContactState {
  const standard: Record<string, unknown> = {};
  for (const [name, column] of Object.entries(STANDARD)) {
    const value = row?.[column];
    standard[name] = value instanceof Date ? value.toISOString() : (value ?? null);
  }
  if (!row) standard.points = 0;
  const fields: Record<string, unknown> = { ...(row?.fields ?? {}) };
  const state: ContactState = {
    known: Boolean(row),
    deleted: row?.deleted ?? false,
    timezone: row?.timezone ?? null,
    tags: [...(row?.tags ?? [])],
    dnc: { ...(row?.dnc ?? {}) },
    segments: new Set(segments),
    ...(activity ? { activity } : {}),
    ...(companies ? { companies } : {}),
    value: (field) => (field.startsWith('fields.') ? fields[field.slice(7)] : standard[field]),
    apply: (change) => {
      for (const [name, value] of Object.entries(change.set ?? {})) {
        if (name.startsWith('fields.')) fields[name.slice(7)] = value;
        else standard[name] = value;
        if (name === 'timezone') state.timezone = typeof value === 'string' ? value : null;
      }
      const removed = new Set(change.removeTags ?? []);
      state.tags = [...new Set([...state.tags, ...(change.addTags ?? [])])].filter((t) => !removed.has(t));
      if (change.points) standard.points = Number(standard.points ?? 0) + change.points;
      if (change.stageId !== undefined) standard.stage = standard.stageId = change.stageId;
      if (change.ownerId !== undefined) standard.owner = standard.ownerId = change.ownerId;
      if (change.dnc) {
        if (change.dnc.value) state.dnc[change.dnc.channel] = 'manual';
        else delete state.dnc[change.dnc.channel];
      }
    },
  };
  return state;
}

/** A run as loadContacts needs it: whose contact, and the definition its conditions come from. */
export interface ContactRun {
  organizationId: string;
  contactId: string;
  definition: JourneyDefinition;
}

/**
 * What a batch of runs needs of its contacts, read set-based (five queries whatever the batch's
 * size), and each run's contact state from it. A contact of another organization than the run's
 * is unknown to the run.
 */
export async function loadContacts(
  db: Executor,
  runs: readonly ContactRun[],
  now: Date,
): Promise<(run: Omit<ContactRun, 'definition'>) => ContactState> {
  const ids = [...new Set(runs.map((r) => r.contactId))];
  const needs = activityNeeds(conditionFilters(runs), now);
  const [rows, memberships, linked, last, history] = await Promise.all([
    ids.length ? db.select().from(contacts).where(inArray(contacts.id, ids)) : [],
    ids.length
      ? db
          .select({ contactId: segmentMemberships.contactId, segmentId: segmentMemberships.segmentId })
          .from(segmentMemberships)
          .where(inArray(segmentMemberships.contactId, ids))
      : [],
    loadCompanies(db, ids),
    ids.length ? db.select().from(lastActivity).where(inArray(lastActivity.contactId, ids)) : [],
    loadActivity(db, ids, needs),
  ]);
  const contactRows = new Map(rows.map((r) => [r.id, r]));
  const segmentsOf = new Map<string, string[]>();
  for (const m of memberships) segmentsOf.set(m.contactId, [...(segmentsOf.get(m.contactId) ?? []), m.segmentId]);
  const lastOf = new Map(last.map((l) => [`${l.organizationId}:${l.contactId}`, l.at]));
  const companiesOf = new Map<string, CompanyValues[]>();
  for (const { organizationId, contactId, ...company } of linked) {
    const key = `${organizationId}:${contactId}`;
    companiesOf.set(key, [...(companiesOf.get(key) ?? []), company]);
  }
  return (run) => {
    const row = contactRows.get(run.contactId);
    const key = `${run.organizationId}:${run.contactId}`;
    const own = history.get(key);
    return contactState(
      row?.organizationId === run.organizationId ? row : undefined,
      segmentsOf.get(run.contactId) ?? [],
      {
        covers: keepsActivityType,
        of: (type) => own?.get(type) ?? [],
        lastActiveAt: lastOf.get(key) ?? null,
      },
      // A contact without a list has no companies, as in CRM.
      companiesOf.get(key) ?? [],
    );
  };
}

/** The filters of every condition step of the batch's definitions, each definition once. */
function conditionFilters(runs: readonly ContactRun[]): unknown[] {
  const definitions = new Set(runs.map((r) => r.definition));
  return [...definitions].flatMap((d) =>
    Object.values(d.steps).flatMap((s) => (s.type === 'condition' ? [s.filter] : [])),
  );
}

/**
 * The batch's contacts' companies, each with its organization and contact. A deleted company is
 * skipped (the lists CRM published before deleting it still name it).
 */
async function loadCompanies(db: Executor, ids: string[]) {
  if (!ids.length) return [];
  return db
    .select({
      organizationId: contactCompanies.organizationId,
      contactId: contactCompanies.contactId,
      name: companies.name,
      domain: companies.domain,
      fields: companies.fields,
    })
    .from(contactCompanies)
    .innerJoin(
      companies,
      and(
        sql`${companies.id} = any(${contactCompanies.companyIds})`,
        eq(companies.organizationId, contactCompanies.organizationId),
        not(companies.deleted),
      ),
    )
    .where(inArray(contactCompanies.contactId, ids));
}

/** The batch's activity of the types its conditions count, by organization and contact, then type. */
async function loadActivity(
  db: Executor,
  ids: string[],
  needs: Map<string, number | null>,
): Promise<Map<string, Map<string, Activity[]>>> {
  const byContact = new Map<string, Map<string, Activity[]>>();
  const wanted = [...needs].filter(([type]) => keepsActivityType(type));
  if (!ids.length || !wanted.length) return byContact;
  const ranges: SQL[] = wanted.map(
    ([type, from]) =>
      and(eq(activities.type, type), from === null ? undefined : gte(activities.occurredAt, new Date(from)))!,
  );
  const rows = await db
    .select()
    .from(activities)
    .where(and(inArray(activities.contactId, ids), or(...ranges)));
  for (const r of rows) {
    const key = `${r.organizationId}:${r.contactId}`;
    const types = byContact.get(key) ?? new Map<string, Activity[]>();
    byContact.set(key, types);
    const list = types.get(r.type) ?? [];
    types.set(r.type, list);
    list.push({ type: r.type, subject: r.subject, properties: r.properties, at: r.occurredAt.getTime() });
  }
  return byContact;
}
