// Segment filters compiled to SQL, against real PostgreSQL 15 and PGlite (PostgreSQL 18): the exact
// contacts every operator selects, both compile modes agreeing, tenancy of every subquery, and
// injection attempts that stay plain data.
import { fileURLToPath } from 'node:url';
import { newId } from '@mauntic/kernel';
import { type DatabaseHandle, openDatabase, runMigrations } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activities,
  companies,
  contactCompanies,
  contacts,
  doNotContact,
  segmentMembers,
  segments,
} from '../src/db/schema.ts';
import { type CompileOptions, compileFilter, countMatching, selectMatching } from '../src/db/segment-sql.ts';
import type { FieldDefinition } from '../src/domain/field-types.ts';
import {
  addDays,
  type Clock,
  type DateExpr,
  localDay,
  resolveDate,
  spanStart,
  startOfDay,
} from '../src/domain/relative-dates.ts';
import {
  type BehaviorCondition,
  countHolds,
  type FieldCondition,
  type FilterNode,
  type FilterScalar,
  POSITIVE_TWIN,
} from '../src/domain/segment-filter.ts';
import { validateFilter } from '../src/domain/segment-filter-validation.ts';

const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));
const NOW = new Date('2024-06-15T12:00:00Z');
const ago = (days: number, hours = 0) => new Date(NOW.getTime() - days * 86_400_000 - hours * 3_600_000);

const field = (
  key: string,
  type: FieldDefinition['type'],
  options = {},
  entity: FieldDefinition['entity'] = 'contact',
) => ({ key, label: key, entity, type, options, required: false }) satisfies FieldDefinition;

const FIELDS: FieldDefinition[] = [
  field('age', 'number'),
  field('score', 'number', { scale: 2 }),
  field('vip', 'boolean'),
  field('birthday', 'date'),
  field('signup_at', 'datetime'),
  field('call_time', 'time'),
  field('plan', 'select', { choices: ['free', 'pro', 'enterprise'] }),
  field('interests', 'multiselect', { choices: ['sports', 'music', 'tech', 'art'] }),
  field('nickname', 'text'),
  field('website', 'url'),
  field('country', 'country'),
  field('size', 'number', {}, 'company'),
  field('industry', 'select', { choices: ['saas', 'retail'] }, 'company'),
];

// ---- the fixture: one organization, plus another whose rows must never count ------------------

type Name = 'ann' | 'bob' | 'cat' | 'dan' | 'eve' | 'fay';
type CompanyName = 'acme' | 'globex' | 'initech';
const NAMES: Name[] = ['ann', 'bob', 'cat', 'dan', 'eve', 'fay'];

interface FixtureContact {
  email: string | null;
  lastName: string | null;
  phone?: string;
  timezone?: string;
  locale?: string;
  owner?: 'o1' | 'o2';
  stage?: 's1' | 's2';
  points: number;
  createdAt: Date;
  lastActiveAt: Date | null;
  tags: string[];
  fields: Record<string, unknown>;
  companies: { company: CompanyName; primary?: boolean }[];
  dnc: ('email' | 'sms' | 'push')[];
  segments: ('a' | 'b')[];
}

const PEOPLE: Record<Name, FixtureContact> = {
  ann: {
    email: 'ann@example.com',
    lastName: 'Lee',
    phone: '+14155550100',
    timezone: 'Europe/Paris',
    locale: 'fr-FR',
    owner: 'o1',
    stage: 's1',
    points: 10,
    createdAt: new Date('2024-06-15T08:00:00Z'),
    lastActiveAt: new Date('2024-06-14T10:00:00Z'),
    tags: ['vip', 'newsletter'],
    fields: {
      age: 30,
      score: 4.5,
      vip: true,
      birthday: '1990-06-15',
      signup_at: '2024-06-01T10:00:00.000Z',
      call_time: '09:30:00',
      plan: 'pro',
      interests: ['sports', 'music'],
      nickname: 'Annie',
      website: 'https://ann.example.com/',
      country: 'FR',
    },
    companies: [{ company: 'acme', primary: true }],
    dnc: [],
    segments: ['a'],
  },
  bob: {
    email: 'BOB@Example.org',
    lastName: 'Brown',
    timezone: 'America/New_York',
    locale: 'en-US',
    owner: 'o2',
    stage: 's2',
    points: 0,
    createdAt: new Date('2024-06-08T15:00:00Z'),
    lastActiveAt: new Date('2024-06-01T00:00:00Z'),
    tags: ['newsletter'],
    fields: {
      age: 45,
      score: 10,
      vip: false,
      birthday: '1985-12-01',
      signup_at: '2023-12-31T23:30:00.000Z',
      call_time: '14:00:00',
      plan: 'free',
      interests: ['tech'],
      nickname: 'Bobby',
      country: 'US',
    },
    companies: [{ company: 'globex', primary: true }],
    dnc: [],
    segments: [],
  },
  cat: {
    email: null,
    lastName: null,
    points: -5,
    // The last day of May in UTC, already 1 June in Paris.
    createdAt: new Date('2024-05-31T23:30:00Z'),
    lastActiveAt: null,
    tags: [],
    fields: {},
    companies: [],
    dnc: ['email'],
    segments: [],
  },
  dan: {
    email: 'dan@example.com',
    lastName: 'Lee',
    owner: 'o1',
    points: 100,
    createdAt: new Date('2023-06-15T05:00:00Z'),
    lastActiveAt: new Date('2024-06-15T11:00:00Z'),
    tags: ['vip', 'partner'],
    fields: {
      age: null,
      score: 99.99,
      birthday: '2000-02-29',
      call_time: '17:00:00',
      plan: 'enterprise',
      interests: [],
      nickname: "o'brien",
      country: 'US',
    },
    companies: [{ company: 'acme' }, { company: 'globex', primary: true }],
    dnc: ['sms'],
    segments: ['b'],
  },
  eve: {
    email: 'eve+test@example.com',
    lastName: "O'Neil",
    points: 10,
    createdAt: new Date('2024-06-01T00:00:00Z'),
    lastActiveAt: new Date('2024-06-10T12:00:00Z'),
    tags: ['x_y'],
    fields: {
      age: 30,
      vip: true,
      birthday: '1995-06-16',
      signup_at: '2024-06-15T11:59:00.000Z',
      interests: ['music', 'art', 'tech'],
      nickname: 'Evie',
    },
    companies: [{ company: 'initech' }],
    dnc: ['email', 'push'],
    segments: ['a', 'b'],
  },
  fay: {
    email: 'fay@sub.example.com',
    lastName: '',
    points: 20,
    // The last day of April in UTC, already 1 May in Paris.
    createdAt: new Date('2024-04-30T22:30:00Z'),
    lastActiveAt: null,
    tags: ['xay'],
    // Stored before "age" became a number and "gold" stopped being a plan: must not break queries.
    fields: { age: 'thirty', nickname: '100%_sure', plan: 'gold' },
    companies: [],
    dnc: [],
    segments: [],
  },
};

const COMPANIES: Record<CompanyName, { name: string; domain: string | null; fields: Record<string, unknown> }> = {
  acme: { name: 'Acme', domain: 'acme.com', fields: { size: 50, industry: 'saas' } },
  globex: { name: 'Globex Corp', domain: 'globex.io', fields: { size: 500, industry: 'retail' } },
  initech: { name: 'Initech', domain: null, fields: {} },
};

interface FixtureActivity {
  who: Name;
  type: string;
  subject: string | null;
  properties?: Record<string, unknown>;
  at: Date;
}

const ACTIVITIES: FixtureActivity[] = [
  { who: 'ann', type: 'email.opened', subject: 'E1', at: ago(1) },
  { who: 'ann', type: 'email.opened', subject: 'E1', at: ago(5) },
  { who: 'ann', type: 'email.opened', subject: 'E1', at: ago(40) },
  { who: 'ann', type: 'email.clicked', subject: 'E1', properties: { url: 'https://x.com/pricing' }, at: ago(1) },
  { who: 'ann', type: 'page.visited', subject: 'https://example.com/pricing?plan=pro', at: ago(2) },
  { who: 'ann', type: 'event', subject: 'purchase', properties: { plan: 'pro', amount: 10 }, at: ago(3) },
  { who: 'bob', type: 'email.opened', subject: 'E1', at: ago(10) },
  { who: 'bob', type: 'form.submitted', subject: 'F1', at: ago(20) },
  { who: 'bob', type: 'event', subject: 'purchase', properties: { plan: 'free' }, at: ago(1) },
  { who: 'bob', type: 'page.visited', subject: 'https://example.com/PRICING', at: ago(50) },
  { who: 'dan', type: 'email.opened', subject: 'E2', at: ago(3) },
  { who: 'dan', type: 'email.opened', subject: 'E2', at: ago(4) },
  { who: 'dan', type: 'email.opened', subject: 'E1', at: ago(100) },
  { who: 'dan', type: 'page.visited', subject: 'https://example.com/about', at: ago(1) },
  { who: 'eve', type: 'email.opened', subject: 'E1', at: ago(2) },
  { who: 'eve', type: 'email.opened', subject: 'E1', at: ago(29) },
];

interface Fixture {
  org: string;
  otherOrg: string;
  ids: Record<Name, string>;
  names: Map<string, Name>;
  owners: Record<'o1' | 'o2', string>;
  stages: Record<'s1' | 's2', string>;
  segments: Record<'a' | 'b', string>;
  intruder: string;
}

async function seed(handle: DatabaseHandle): Promise<Fixture> {
  const org = newId();
  const otherOrg = newId();
  const ids = Object.fromEntries(NAMES.map((n) => [n, newId()])) as Record<Name, string>;
  const owners = { o1: newId(), o2: newId() };
  const stages = { s1: newId(), s2: newId() };
  const segs = { a: newId(), b: newId() };
  const companyIds = { acme: newId(), globex: newId(), initech: newId() };
  const intruder = newId();
  const theirAcme = newId();
  const theirSegment = newId();
  const { db } = handle;

  await db.insert(contacts).values(
    NAMES.map((name) => {
      const p = PEOPLE[name];
      return {
        id: ids[name],
        organizationId: org,
        email: p.email,
        firstName: name,
        lastName: p.lastName,
        phone: p.phone ?? null,
        timezone: p.timezone ?? null,
        locale: p.locale ?? null,
        ownerId: p.owner ? owners[p.owner] : null,
        stageId: p.stage ? stages[p.stage] : null,
        points: p.points,
        fields: p.fields,
        tags: p.tags,
        createdAt: p.createdAt,
        updatedAt: p.createdAt,
        lastActiveAt: p.lastActiveAt,
      };
    }),
  );
  // Another organization's contact that matches nearly everything ann matches.
  await db.insert(contacts).values({
    id: intruder,
    organizationId: otherOrg,
    email: 'ann@example.com',
    firstName: 'zed',
    points: 10,
    fields: PEOPLE.ann.fields,
    tags: ['vip', 'newsletter'],
    createdAt: NOW,
    lastActiveAt: NOW,
  });
  await db.insert(companies).values([
    ...(Object.keys(COMPANIES) as CompanyName[]).map((c) => ({
      id: companyIds[c],
      organizationId: org,
      ...COMPANIES[c],
    })),
    {
      id: theirAcme,
      organizationId: otherOrg,
      name: 'Acme',
      domain: 'acme.com',
      fields: { size: 50, industry: 'saas' },
    },
  ]);
  await db.insert(contactCompanies).values([
    ...NAMES.flatMap((name) =>
      PEOPLE[name].companies.map((l) => ({
        organizationId: org,
        contactId: ids[name],
        companyId: companyIds[l.company],
        isPrimary: l.primary ?? false,
      })),
    ),
    // Rows of the other organization that point at this organization's contacts must be ignored.
    { organizationId: otherOrg, contactId: ids.cat, companyId: theirAcme },
    { organizationId: otherOrg, contactId: intruder, companyId: theirAcme },
  ]);
  await db.insert(doNotContact).values([
    ...NAMES.flatMap((name) =>
      PEOPLE[name].dnc.map((channel) => ({
        organizationId: org,
        contactId: ids[name],
        channel,
        reason: 'manual' as const,
      })),
    ),
    { organizationId: otherOrg, contactId: ids.ann, channel: 'sms', reason: 'manual' },
    { organizationId: otherOrg, contactId: intruder, channel: 'email', reason: 'manual' },
  ]);
  await db.insert(segments).values([
    { id: segs.a, organizationId: org, name: 'A', kind: 'static' },
    { id: segs.b, organizationId: org, name: 'B', kind: 'static' },
    { id: theirSegment, organizationId: otherOrg, name: 'Z', kind: 'static' },
  ]);
  await db
    .insert(segmentMembers)
    .values([
      ...NAMES.flatMap((name) =>
        PEOPLE[name].segments.map((s) => ({ organizationId: org, segmentId: segs[s], contactId: ids[name] })),
      ),
      { organizationId: otherOrg, segmentId: segs.a, contactId: ids.bob },
      { organizationId: otherOrg, segmentId: theirSegment, contactId: intruder },
    ]);
  await db.insert(activities).values([
    ...ACTIVITIES.map((a) => ({
      id: newId(),
      organizationId: org,
      contactId: ids[a.who],
      type: a.type,
      subject: a.subject,
      properties: a.properties ?? {},
      occurredAt: a.at,
    })),
    ...Array.from({ length: 5 }, () => ({
      id: newId(),
      organizationId: otherOrg,
      contactId: ids.cat,
      type: 'email.opened',
      subject: 'E1',
      occurredAt: ago(1),
    })),
    ...['form.submitted', 'email.clicked'].map((type) => ({
      id: newId(),
      organizationId: otherOrg,
      contactId: intruder,
      type,
      subject: 'F1',
      occurredAt: ago(1),
    })),
  ]);
  const names = new Map(NAMES.map((n) => [ids[n], n]));
  return { org, otherOrg, ids, names, owners, stages, segments: segs, intruder };
}

// ---- a reference evaluator: the documented semantics, in TypeScript --------------------------

function reference(node: FilterNode, name: Name, f: Fixture, clock: Clock): boolean {
  const person = PEOPLE[name];
  switch (node.type) {
    case 'and':
      return node.nodes.every((n) => reference(n, name, f, clock));
    case 'or':
      return node.nodes.some((n) => reference(n, name, f, clock));
    case 'not':
      return !reference(node.node, name, f, clock);
    case 'tags': {
      const has = (t: string) => person.tags.includes(t);
      if (node.op === 'includesAny') return node.values.some(has);
      if (node.op === 'includesAll') return node.values.every(has);
      if (node.op === 'excludesAll') return !node.values.some(has);
      return node.op === 'empty' ? person.tags.length === 0 : person.tags.length > 0;
    }
    case 'dnc':
      return person.dnc.includes(node.channel) === node.is;
    case 'segment':
      return person.segments.some((s) => f.segments[s] === node.id) === node.member;
    case 'behavior':
      return countHolds(node.count, ACTIVITIES.filter((a) => a.who === name && activityMatches(a, node, clock)).length);
    case 'field':
      return referenceField(node, name, f, clock);
  }
}

function activityMatches(a: FixtureActivity, b: BehaviorCondition, clock: Clock): boolean {
  if (a.type !== b.activity) return false;
  if (b.subject !== undefined && a.subject !== b.subject) return false;
  if (b.subjectLike !== undefined && !(a.subject !== null && likeRegExp(b.subjectLike).test(a.subject))) return false;
  if (b.properties && !Object.entries(b.properties).every(([k, v]) => a.properties?.[k] === v)) return false;
  if (b.within && a.at < spanStart(b.within, clock)) return false;
  if (b.since) {
    const since = resolveDate(b.since, clock);
    if (since.type === 'days' && a.at < startOfDay(since.from, clock.timeZone)) return false;
    if (since.type === 'instant' && a.at < since.at) return false;
  }
  if (b.until) {
    const until = resolveDate(b.until, clock);
    if (until.type === 'days' && a.at >= startOfDay(until.to, clock.timeZone)) return false;
    if (until.type === 'instant' && a.at > until.at) return false;
  }
  return true;
}

const likeRegExp = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('')
      .map((ch) => (ch === '%' ? '.*' : ch === '_' ? '.' : ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    'is',
  );

function referenceField(node: FieldCondition, name: Name, f: Fixture, clock: Clock): boolean {
  const twin = POSITIVE_TWIN[node.op];
  if (twin) return !referenceField({ ...node, op: twin }, name, f, clock);
  const { target } = node;
  const person = PEOPLE[name];
  if (target.entity === 'company') {
    return person.companies.some(({ company }) => {
      const c = COMPANIES[company];
      const raw = target.source === 'column' ? c[target.column] : c.fields[target.key];
      return holdsFor(storedValue(raw, target.kind, target.source), node, clock);
    });
  }
  if (target.source === 'fields')
    return holdsFor(storedValue(person.fields[target.key], target.kind, 'fields'), node, clock);
  const column: Record<string, unknown> = {
    email: person.email,
    firstName: name,
    lastName: person.lastName,
    phone: person.phone ?? null,
    timezone: person.timezone ?? null,
    locale: person.locale ?? null,
    points: person.points,
    createdAt: person.createdAt,
    updatedAt: person.createdAt,
    lastActiveAt: person.lastActiveAt,
    ownerId: person.owner ? f.owners[person.owner] : null,
    stageId: person.stage ? f.stages[person.stage] : null,
  };
  return holdsFor(storedValue(column[target.column], target.kind, 'column'), node, clock);
}

/** What the database sees of a value: a custom number that is not a JSON number reads as no value. */
function storedValue(raw: unknown, kind: string, source: 'column' | 'fields'): unknown {
  if (raw === undefined || raw === null) return null;
  if (source === 'fields' && kind === 'numeric') return typeof raw === 'number' ? raw : null;
  if (source === 'fields' && kind === 'timestamptz') return new Date(raw as string);
  return raw;
}

function holdsFor(v: unknown, { op, value, target }: FieldCondition, clock: Clock): boolean {
  const list = (Array.isArray(value) ? value : [value]) as FilterScalar[];
  if (target.kind === 'array') {
    const items = Array.isArray(v) ? (v as string[]) : [];
    if (op === 'notEmpty') return items.length > 0;
    return op === 'in' ? list.some((x) => items.includes(x as string)) : list.every((x) => items.includes(x as string));
  }
  if (op === 'notEmpty') return v !== null && v !== '';
  if (v === null) return false;
  if (target.kind === 'boolean') return v === value;
  if (target.kind === 'text' || target.kind === 'uuid') {
    const s = String(v).toLowerCase();
    const x = String(value).toLowerCase();
    switch (op) {
      case 'eq':
        return s === x;
      case 'in':
        return list.some((item) => String(item).toLowerCase() === s);
      case 'like':
        return likeRegExp(String(value)).test(String(v));
      case 'startsWith':
        return s.startsWith(x);
      case 'endsWith':
        return s.endsWith(x);
      case 'contains':
        return s.includes(x);
      case 'regexp':
        return new RegExp(String(value), 'i').test(String(v));
      default:
        throw new Error(`no reference for ${op}`);
    }
  }
  const cmp = (x: FilterScalar, o: 'eq' | 'gt' | 'gte' | 'lt' | 'lte') => compareRef(v, target.kind, x, o, clock);
  if (op === 'between') return cmp(list[0]!, 'gte') && cmp(list[1]!, 'lte');
  if (op === 'in') return list.some((x) => cmp(x, 'eq'));
  return cmp(value as FilterScalar, op as 'eq');
}

function compareRef(
  v: unknown,
  kind: string,
  x: FilterScalar,
  op: 'eq' | 'gt' | 'gte' | 'lt' | 'lte',
  clock: Clock,
): boolean {
  const order = (a: number | string, lo: number | string, hi: number | string) =>
    ({ eq: a >= lo && a < hi, gt: a >= hi, gte: a >= lo, lt: a < lo, lte: a < hi })[op];
  const point = (a: number | string, p: number | string) =>
    ({ eq: a === p, gt: a > p, gte: a >= p, lt: a < p, lte: a <= p })[op];
  if (kind === 'numeric' || kind === 'time') return point(v as number | string, x as number | string);
  const resolved = resolveDate(x as DateExpr, clock);
  if (kind === 'date') {
    const day = v as string;
    if (resolved.type === 'anniversary') return day.slice(5) === resolved.monthDay;
    if (resolved.type === 'instant') {
      const d = localDay(resolved.at, clock.timeZone);
      return order(day, d, addDays(d, 1));
    }
    return order(day, resolved.from, resolved.to);
  }
  const at = (v as Date).getTime();
  if (resolved.type === 'anniversary') return localDay(v as Date, clock.timeZone).slice(5) === resolved.monthDay;
  if (resolved.type === 'instant') return point(at, resolved.at.getTime());
  return order(
    at,
    startOfDay(resolved.from, clock.timeZone).getTime(),
    startOfDay(resolved.to, clock.timeZone).getTime(),
  );
}

// ---- the cases: filter, the contacts it must select --------------------------------------------

type Case = [title: string, filter: (f: Fixture) => unknown, expected: Name[], timeZone?: string];
const c = (title: string, filter: unknown, expected: Name[], timeZone?: string): Case => [
  title,
  () => filter,
  expected,
  timeZone,
];
const ALL = NAMES;
const except = (...out: Name[]) => NAMES.filter((n) => !out.includes(n));

const TEXT_CASES: Case[] = [
  c('email eq ignores case', { field: 'email', op: 'eq', value: 'bob@example.org' }, ['bob']),
  c(
    'email neq includes contacts without an email',
    { field: 'email', op: 'neq', value: 'bob@example.org' },
    except('bob'),
  ),
  c('email in', { field: 'email', op: 'in', value: ['ann@example.com', 'DAN@example.com'] }, ['ann', 'dan']),
  c('email notIn', { field: 'email', op: 'notIn', value: ['ann@example.com', 'DAN@example.com'] }, [
    'bob',
    'cat',
    'eve',
    'fay',
  ]),
  c('email empty', { field: 'email', op: 'empty' }, ['cat']),
  c('email notEmpty', { field: 'email', op: 'notEmpty' }, except('cat')),
  c('email like', { field: 'email', op: 'like', value: '%@example.com' }, ['ann', 'dan', 'eve']),
  c('email notLike', { field: 'email', op: 'notLike', value: '%@example.com' }, ['bob', 'cat', 'fay']),
  c('email regexp ignores case', { field: 'email', op: 'regexp', value: '^[a-d]' }, ['ann', 'bob', 'dan']),
  c('email notRegexp', { field: 'email', op: 'notRegexp', value: '^[a-d]' }, ['cat', 'eve', 'fay']),
  c('email startsWith treats + literally', { field: 'email', op: 'startsWith', value: 'eve+' }, ['eve']),
  c('email endsWith', { field: 'email', op: 'endsWith', value: '.ORG' }, ['bob']),
  c('email contains', { field: 'email', op: 'contains', value: 'example' }, except('cat')),
  c('lastName empty counts the empty string', { field: 'lastName', op: 'empty' }, ['cat', 'fay']),
  c('lastName notEmpty', { field: 'lastName', op: 'notEmpty' }, ['ann', 'bob', 'dan', 'eve']),
  c('lastName eq with a quote', { field: 'lastName', op: 'eq', value: "o'neil" }, ['eve']),
  c('firstName in', { field: 'firstName', op: 'in', value: ['Ann', 'fay'] }, ['ann', 'fay']),
  c('phone eq normalizes to E.164', { field: 'phone', op: 'eq', value: '+1 415 555 0100' }, ['ann']),
  c('timezone eq', { field: 'timezone', op: 'eq', value: 'Europe/Paris' }, ['ann']),
  c('locale eq normalizes', { field: 'locale', op: 'eq', value: 'fr_FR' }, ['ann']),
  c('locale notIn', { field: 'locale', op: 'notIn', value: ['en-US'] }, except('bob')),
  c('custom text contains escapes %', { field: 'fields.nickname', op: 'contains', value: '%' }, ['fay']),
  c('custom text contains escapes _', { field: 'fields.nickname', op: 'contains', value: '_' }, ['fay']),
  c('custom text startsWith', { field: 'fields.nickname', op: 'startsWith', value: '100%' }, ['fay']),
  c('custom text like', { field: 'fields.nickname', op: 'like', value: 'b%' }, ['bob']),
  c('custom text like with a suffix', { field: 'fields.nickname', op: 'like', value: '%IE' }, ['ann', 'eve']),
  c('custom text notLike', { field: 'fields.nickname', op: 'notLike', value: '%ie' }, ['bob', 'cat', 'dan', 'fay']),
  c('custom text regexp', { field: 'fields.nickname', op: 'regexp', value: '^(annie|evie)$' }, ['ann', 'eve']),
  c('custom text eq with a quote', { field: 'fields.nickname', op: 'eq', value: "O'BRIEN" }, ['dan']),
  c('custom text endsWith', { field: 'fields.nickname', op: 'endsWith', value: 'IE' }, ['ann', 'eve']),
  c('custom text empty', { field: 'fields.nickname', op: 'empty' }, ['cat']),
  c('custom text neq', { field: 'fields.nickname', op: 'neq', value: 'annie' }, except('ann')),
  c('custom text notIn', { field: 'fields.nickname', op: 'notIn', value: ['annie', 'bobby'] }, [
    'cat',
    'dan',
    'eve',
    'fay',
  ]),
  c('custom text notRegexp', { field: 'fields.nickname', op: 'notRegexp', value: 'i' }, ['bob', 'cat', 'fay']),
  c('url eq normalizes', { field: 'fields.website', op: 'eq', value: 'https://ann.example.com' }, ['ann']),
  c('country eq normalizes', { field: 'fields.country', op: 'eq', value: 'fr' }, ['ann']),
  c('country in', { field: 'fields.country', op: 'in', value: ['US'] }, ['bob', 'dan']),
  c('select eq', { field: 'fields.plan', op: 'eq', value: 'pro' }, ['ann']),
  c('select in', { field: 'fields.plan', op: 'in', value: ['pro', 'enterprise'] }, ['ann', 'dan']),
  c('select notIn', { field: 'fields.plan', op: 'notIn', value: ['free'] }, except('bob')),
  c('select startsWith', { field: 'fields.plan', op: 'startsWith', value: 'ent' }, ['dan']),
  c('select empty', { field: 'fields.plan', op: 'empty' }, ['cat', 'eve']),
];

const ID_CASES: Case[] = [
  [`owner eq`, (f) => ({ field: 'owner', op: 'eq', value: f.owners.o1 }), ['ann', 'dan']],
  [`owner neq`, (f) => ({ field: 'owner', op: 'neq', value: f.owners.o1 }), ['bob', 'cat', 'eve', 'fay']],
  [`owner in`, (f) => ({ field: 'owner', op: 'in', value: [f.owners.o1, f.owners.o2] }), ['ann', 'bob', 'dan']],
  [`owner notIn`, (f) => ({ field: 'owner', op: 'notIn', value: [f.owners.o2] }), except('bob')],
  c('owner empty', { field: 'owner', op: 'empty' }, ['cat', 'eve', 'fay']),
  c('owner notEmpty', { field: 'owner', op: 'notEmpty' }, ['ann', 'bob', 'dan']),
  [`stage eq`, (f) => ({ field: 'stage', op: 'eq', value: f.stages.s1 }), ['ann']],
  c('stage empty', { field: 'stage', op: 'empty' }, ['cat', 'dan', 'eve', 'fay']),
];

const NUMBER_CASES: Case[] = [
  c('points eq', { field: 'points', op: 'eq', value: 10 }, ['ann', 'eve']),
  c('points neq', { field: 'points', op: 'neq', value: 10 }, ['bob', 'cat', 'dan', 'fay']),
  c('points gt', { field: 'points', op: 'gt', value: 10 }, ['dan', 'fay']),
  c('points gte', { field: 'points', op: 'gte', value: 10 }, ['ann', 'dan', 'eve', 'fay']),
  c('points lt', { field: 'points', op: 'lt', value: 10 }, ['bob', 'cat']),
  c('points lte', { field: 'points', op: 'lte', value: 0 }, ['bob', 'cat']),
  c('points between is inclusive', { field: 'points', op: 'between', value: [0, 20] }, ['ann', 'bob', 'eve', 'fay']),
  c('points in', { field: 'points', op: 'in', value: [0, 100] }, ['bob', 'dan']),
  c('points notIn', { field: 'points', op: 'notIn', value: [0, 100] }, ['ann', 'cat', 'eve', 'fay']),
  c('points empty never holds', { field: 'points', op: 'empty' }, []),
  c('points notEmpty', { field: 'points', op: 'notEmpty' }, ALL),
  c('custom number eq', { field: 'fields.age', op: 'eq', value: 30 }, ['ann', 'eve']),
  c('custom number neq includes missing, null and stale values', { field: 'fields.age', op: 'neq', value: 30 }, [
    'bob',
    'cat',
    'dan',
    'fay',
  ]),
  c('custom number gt', { field: 'fields.age', op: 'gt', value: 30 }, ['bob']),
  c('custom number gte', { field: 'fields.age', op: 'gte', value: 30 }, ['ann', 'bob', 'eve']),
  c('custom number lt', { field: 'fields.age', op: 'lt', value: 45 }, ['ann', 'eve']),
  c('custom number lte', { field: 'fields.age', op: 'lte', value: 45 }, ['ann', 'bob', 'eve']),
  c('custom number between', { field: 'fields.age', op: 'between', value: [31, 50] }, ['bob']),
  c('custom number in', { field: 'fields.age', op: 'in', value: [45, 99] }, ['bob']),
  c('custom number notIn', { field: 'fields.age', op: 'notIn', value: [45] }, except('bob')),
  c('custom number empty: missing, JSON null and a stale string', { field: 'fields.age', op: 'empty' }, [
    'cat',
    'dan',
    'fay',
  ]),
  c('custom number notEmpty', { field: 'fields.age', op: 'notEmpty' }, ['ann', 'bob', 'eve']),
  c('custom decimal gt', { field: 'fields.score', op: 'gt', value: 4.49 }, ['ann', 'bob', 'dan']),
  c('custom decimal eq', { field: 'fields.score', op: 'eq', value: 99.99 }, ['dan']),
  c('custom decimal lt, from a numeric string', { field: 'fields.score', op: 'lt', value: '10' }, ['ann']),
];

const BOOLEAN_CASES: Case[] = [
  c('boolean eq true', { field: 'fields.vip', op: 'eq', value: true }, ['ann', 'eve']),
  c('boolean eq false', { field: 'fields.vip', op: 'eq', value: false }, ['bob']),
  c('boolean neq true includes missing', { field: 'fields.vip', op: 'neq', value: true }, ['bob', 'cat', 'dan', 'fay']),
  c('boolean empty', { field: 'fields.vip', op: 'empty' }, ['cat', 'dan', 'fay']),
  c('boolean notEmpty', { field: 'fields.vip', op: 'notEmpty' }, ['ann', 'bob', 'eve']),
];

const MULTISELECT_CASES: Case[] = [
  c('multiselect in is any of', { field: 'fields.interests', op: 'in', value: ['music'] }, ['ann', 'eve']),
  c('multiselect in several', { field: 'fields.interests', op: 'in', value: ['sports', 'tech'] }, [
    'ann',
    'bob',
    'eve',
  ]),
  c('multiselect notIn', { field: 'fields.interests', op: 'notIn', value: ['music'] }, ['bob', 'cat', 'dan', 'fay']),
  c('multiselect contains is all of', { field: 'fields.interests', op: 'contains', value: ['music', 'tech'] }, ['eve']),
  c('multiselect contains one', { field: 'fields.interests', op: 'contains', value: ['music'] }, ['ann', 'eve']),
  c('multiselect empty: missing or []', { field: 'fields.interests', op: 'empty' }, ['cat', 'dan', 'fay']),
  c('multiselect notEmpty', { field: 'fields.interests', op: 'notEmpty' }, ['ann', 'bob', 'eve']),
];

const TIME_CASES: Case[] = [
  c('time eq', { field: 'fields.call_time', op: 'eq', value: '09:30' }, ['ann']),
  c('time neq', { field: 'fields.call_time', op: 'neq', value: '14:00' }, except('bob')),
  c('time gt', { field: 'fields.call_time', op: 'gt', value: '12:00' }, ['bob', 'dan']),
  c('time gte', { field: 'fields.call_time', op: 'gte', value: '14:00:00' }, ['bob', 'dan']),
  c('time lt', { field: 'fields.call_time', op: 'lt', value: '17:00:00' }, ['ann', 'bob']),
  c('time lte', { field: 'fields.call_time', op: 'lte', value: '09:30' }, ['ann']),
  c('time between', { field: 'fields.call_time', op: 'between', value: ['09:00', '14:00'] }, ['ann', 'bob']),
  c('time in', { field: 'fields.call_time', op: 'in', value: ['14:00', '17:00'] }, ['bob', 'dan']),
  c('time notIn', { field: 'fields.call_time', op: 'notIn', value: ['14:00', '17:00'] }, ['ann', 'cat', 'eve', 'fay']),
  c('time empty', { field: 'fields.call_time', op: 'empty' }, ['cat', 'eve', 'fay']),
  c('time notEmpty', { field: 'fields.call_time', op: 'notEmpty' }, ['ann', 'bob', 'dan']),
];

const DATE_CASES: Case[] = [
  c('date eq', { field: 'fields.birthday', op: 'eq', value: '1990-06-15' }, ['ann']),
  c('date neq', { field: 'fields.birthday', op: 'neq', value: '1990-06-15' }, except('ann')),
  c('date gt is after that day', { field: 'fields.birthday', op: 'gt', value: '1990-06-15' }, ['dan', 'eve']),
  c('date gte', { field: 'fields.birthday', op: 'gte', value: '1990-06-15' }, ['ann', 'dan', 'eve']),
  c('date lt', { field: 'fields.birthday', op: 'lt', value: '1990-01-01' }, ['bob']),
  c('date lte includes that day', { field: 'fields.birthday', op: 'lte', value: '1990-06-15' }, ['ann', 'bob']),
  c('date between', { field: 'fields.birthday', op: 'between', value: ['1985-01-01', '1990-12-31'] }, ['ann', 'bob']),
  c('date in', { field: 'fields.birthday', op: 'in', value: ['1985-12-01', '2000-02-29'] }, ['bob', 'dan']),
  c('date notIn', { field: 'fields.birthday', op: 'notIn', value: ['1985-12-01'] }, except('bob')),
  c('date empty', { field: 'fields.birthday', op: 'empty' }, ['cat', 'fay']),
  c('date notEmpty', { field: 'fields.birthday', op: 'notEmpty' }, ['ann', 'bob', 'dan', 'eve']),
  c('date anniversary', { field: 'fields.birthday', op: 'eq', value: 'anniversary' }, ['ann']),
  c(
    'date anniversary where it is already tomorrow',
    { field: 'fields.birthday', op: 'eq', value: 'anniversary' },
    ['eve'],
    'Pacific/Kiritimati',
  ),
  c('date relative years', { field: 'fields.birthday', op: 'gte', value: '-30 years' }, ['dan', 'eve']),
  c('date with an instant compares its local day', { field: 'fields.birthday', op: 'lt', value: 'now' }, [
    'ann',
    'bob',
    'dan',
    'eve',
  ]),
  c('createdAt eq today', { field: 'createdAt', op: 'eq', value: 'today' }, ['ann']),
  c('createdAt gte -7 days is from the start of that day', { field: 'createdAt', op: 'gte', value: '-7 days' }, [
    'ann',
    'bob',
  ]),
  c('createdAt gt -7 days is after that day', { field: 'createdAt', op: 'gt', value: '-7 days' }, ['ann']),
  c('createdAt lt -7 days', { field: 'createdAt', op: 'lt', value: '-7 days' }, ['cat', 'dan', 'eve', 'fay']),
  c('createdAt lte -7 days', { field: 'createdAt', op: 'lte', value: '-7 days' }, except('ann')),
  c('createdAt this month (UTC)', { field: 'createdAt', op: 'eq', value: 'this month' }, ['ann', 'bob', 'eve']),
  c('createdAt last month (UTC)', { field: 'createdAt', op: 'eq', value: 'last month' }, ['cat']),
  c('createdAt neq this month', { field: 'createdAt', op: 'neq', value: 'this month' }, ['cat', 'dan', 'fay']),
  c(
    'createdAt this month in Paris',
    { field: 'createdAt', op: 'eq', value: 'this month' },
    ['ann', 'bob', 'cat', 'eve'],
    'Europe/Paris',
  ),
  c('createdAt last month in Paris', { field: 'createdAt', op: 'eq', value: 'last month' }, ['fay'], 'Europe/Paris'),
  c('createdAt this year', { field: 'createdAt', op: 'eq', value: 'this year' }, except('dan')),
  c('createdAt last year', { field: 'createdAt', op: 'eq', value: 'last year' }, ['dan']),
  c('createdAt between days, inclusive', { field: 'createdAt', op: 'between', value: ['2024-05-01', '2024-06-01'] }, [
    'cat',
    'eve',
  ]),
  c('createdAt in days', { field: 'createdAt', op: 'in', value: ['2024-06-15', '2023-06-15'] }, ['ann', 'dan']),
  c('createdAt notIn days', { field: 'createdAt', op: 'notIn', value: ['2024-06-15', '2023-06-15'] }, [
    'bob',
    'cat',
    'eve',
    'fay',
  ]),
  c('createdAt eq an instant', { field: 'createdAt', op: 'eq', value: '2024-06-08T15:00:00Z' }, ['bob']),
  c('createdAt gt an instant', { field: 'createdAt', op: 'gt', value: '2024-06-08T17:00:00+02:00' }, ['ann']),
  c('createdAt gte an instant', { field: 'createdAt', op: 'gte', value: '2024-06-08T15:00:00Z' }, ['ann', 'bob']),
  c('createdAt lte an instant', { field: 'createdAt', op: 'lte', value: '2024-06-01T00:00:00Z' }, [
    'cat',
    'dan',
    'eve',
    'fay',
  ]),
  c('createdAt lt now', { field: 'createdAt', op: 'lt', value: 'now' }, ALL),
  c('createdAt gt now', { field: 'createdAt', op: 'gt', value: 'now' }, []),
  c('createdAt tomorrow', { field: 'createdAt', op: 'eq', value: 'tomorrow' }, []),
  c('createdAt anniversary', { field: 'createdAt', op: 'eq', value: 'anniversary' }, ['ann', 'dan']),
  c('createdAt empty never holds', { field: 'createdAt', op: 'empty' }, []),
  c('updatedAt gte', { field: 'updatedAt', op: 'gte', value: '2024-06-01' }, ['ann', 'bob', 'eve']),
  c('lastActiveAt yesterday', { field: 'lastActiveAt', op: 'eq', value: 'yesterday' }, ['ann']),
  c('lastActiveAt empty', { field: 'lastActiveAt', op: 'empty' }, ['cat', 'fay']),
  c('lastActiveAt notEmpty', { field: 'lastActiveAt', op: 'notEmpty' }, ['ann', 'bob', 'dan', 'eve']),
  c('lastActiveAt gte -3 hours is an instant', { field: 'lastActiveAt', op: 'gte', value: '-3 hours' }, ['dan']),
  c('lastActiveAt neq today includes no activity', { field: 'lastActiveAt', op: 'neq', value: 'today' }, except('dan')),
  c('lastActiveAt this week (Monday to Sunday)', { field: 'lastActiveAt', op: 'eq', value: 'this week' }, [
    'ann',
    'dan',
    'eve',
  ]),
  c('lastActiveAt last week', { field: 'lastActiveAt', op: 'eq', value: 'last week' }, []),
  c('lastActiveAt gte -1 month', { field: 'lastActiveAt', op: 'gte', value: '-1 month' }, ['ann', 'bob', 'dan', 'eve']),
  c('custom datetime this year (UTC)', { field: 'fields.signup_at', op: 'eq', value: 'this year' }, ['ann', 'eve']),
  c(
    'custom datetime this year in Paris',
    { field: 'fields.signup_at', op: 'eq', value: 'this year' },
    ['ann', 'bob', 'eve'],
    'Europe/Paris',
  ),
  c('custom datetime gte -1 hour', { field: 'fields.signup_at', op: 'gte', value: '-1 hour' }, ['eve']),
  c('custom datetime lt a day', { field: 'fields.signup_at', op: 'lt', value: '2024-01-01' }, ['bob']),
  c('custom datetime eq a day', { field: 'fields.signup_at', op: 'eq', value: '2024-06-01' }, ['ann']),
  c('custom datetime eq an instant', { field: 'fields.signup_at', op: 'eq', value: '2024-06-01T12:00:00+02:00' }, [
    'ann',
  ]),
  c('custom datetime between', { field: 'fields.signup_at', op: 'between', value: ['2024-01-01', 'today'] }, [
    'ann',
    'eve',
  ]),
  c('custom datetime empty', { field: 'fields.signup_at', op: 'empty' }, ['cat', 'dan', 'fay']),
  c('custom datetime anniversary', { field: 'fields.signup_at', op: 'eq', value: 'anniversary' }, ['eve']),
];

const COMPANY_CASES: Case[] = [
  c('company name eq (any linked company)', { field: 'company.name', op: 'eq', value: 'acme' }, ['ann', 'dan']),
  c('company name neq: no linked company has it', { field: 'company.name', op: 'neq', value: 'acme' }, [
    'bob',
    'cat',
    'eve',
    'fay',
  ]),
  c('company name startsWith', { field: 'company.name', op: 'startsWith', value: 'glo' }, ['bob', 'dan']),
  c('company name regexp', { field: 'company.name', op: 'regexp', value: 'corp$' }, ['bob', 'dan']),
  c('company domain empty: no company with a domain', { field: 'company.domain', op: 'empty' }, ['cat', 'eve', 'fay']),
  c('company domain notEmpty', { field: 'company.domain', op: 'notEmpty' }, ['ann', 'bob', 'dan']),
  c('company domain in', { field: 'company.domain', op: 'in', value: ['GLOBEX.IO'] }, ['bob', 'dan']),
  c('company custom number gt', { field: 'company.fields.size', op: 'gt', value: 100 }, ['bob', 'dan']),
  c('company custom number lte', { field: 'company.fields.size', op: 'lte', value: 100 }, ['ann', 'dan']),
  c('company custom number empty', { field: 'company.fields.size', op: 'empty' }, ['cat', 'eve', 'fay']),
  c('company custom select eq', { field: 'company.fields.industry', op: 'eq', value: 'saas' }, ['ann', 'dan']),
  c('company custom select notIn', { field: 'company.fields.industry', op: 'notIn', value: ['saas'] }, [
    'bob',
    'cat',
    'eve',
    'fay',
  ]),
];

const RELATION_CASES: Case[] = [
  c('tags includesAny (case-folded)', { tags: { op: 'includesAny', value: ['VIP', 'partner'] } }, ['ann', 'dan']),
  c('tags includesAll', { tags: { op: 'includesAll', value: ['vip', 'newsletter'] } }, ['ann']),
  c('tags excludesAll', { tags: { op: 'excludesAll', value: ['vip'] } }, ['bob', 'cat', 'eve', 'fay']),
  c('tags empty', { tags: { op: 'empty' } }, ['cat']),
  c('tags notEmpty', { tags: { op: 'notEmpty' } }, except('cat')),
  c('tags are names, not patterns', { tags: { op: 'includesAny', value: ['x_y'] } }, ['eve']),
  c('dnc email', { dnc: { channel: 'email', is: true } }, ['cat', 'eve']),
  c('dnc email false', { dnc: { channel: 'email', is: false } }, ['ann', 'bob', 'dan', 'fay']),
  c('dnc sms ignores another organization', { dnc: { channel: 'sms' } }, ['dan']),
  c('dnc push', { dnc: { channel: 'push' } }, ['eve']),
  ['segment member', (f) => ({ segment: { id: f.segments.a } }), ['ann', 'eve']],
  ['segment not member', (f) => ({ segment: { id: f.segments.a, member: false } }), ['bob', 'cat', 'dan', 'fay']],
  [
    'in both segments',
    (f) => ({ and: [{ segment: { id: f.segments.a } }, { segment: { id: f.segments.b } }] }),
    ['eve'],
  ],
];

const opened = (extra: Record<string, unknown> = {}) => ({
  behavior: { type: 'email.opened', subject: 'E1', ...extra },
});
const BEHAVIOR_CASES: Case[] = [
  c('opened email E1 at least once', opened(), ['ann', 'bob', 'dan', 'eve']),
  c('opened E1 at least twice in 30 days', opened({ count: { op: 'gte', value: 2 }, within: '30 days' }), [
    'ann',
    'eve',
  ]),
  c(
    'opened E1 fewer than twice in 30 days includes no activity',
    opened({ count: { op: 'lt', value: 2 }, within: '-30 days' }),
    ['bob', 'cat', 'dan', 'fay'],
  ),
  c('opened E1 exactly 0 times in 30 days', opened({ count: { op: 'eq', value: 0 }, within: '30 days' }), [
    'cat',
    'dan',
    'fay',
  ]),
  c('never opened E1', opened({ count: { op: 'eq', value: 0 } }), ['cat', 'fay']),
  c('opened E1 exactly once', opened({ count: { op: 'eq', value: 1 } }), ['bob', 'dan']),
  c('opened E1 at most once', opened({ count: { op: 'lte', value: 1 } }), ['bob', 'cat', 'dan', 'fay']),
  c('opened E1 more than twice', opened({ count: { op: 'gt', value: 2 } }), ['ann']),
  c('opened E1 at least 0 times is everyone', opened({ count: { op: 'gte', value: 0 } }), ALL),
  c('opened any email at least 3 times', { behavior: { type: 'email.opened', count: { op: 'gte', value: 3 } } }, [
    'ann',
    'dan',
  ]),
  c('opened E1 in 12 hours', opened({ within: '12 hours' }), []),
  c('opened E1 within 2 days', opened({ within: '2 days' }), ['ann', 'eve']),
  c('clicked any link', { behavior: { type: 'email.clicked' } }, ['ann']),
  c('submitted form F1', { behavior: { type: 'form.submitted', subject: 'F1' } }, ['bob']),
  c('visited a URL like /pricing', { behavior: { type: 'page.visited', subjectLike: '%/pricing%' } }, ['ann', 'bob']),
  c(
    'visited /pricing in 30 days',
    { behavior: { type: 'page.visited', subjectLike: '%/pricing%', within: '30 days' } },
    ['ann'],
  ),
  c('custom event with a property', { behavior: { type: 'event', subject: 'purchase', properties: { plan: 'pro' } } }, [
    'ann',
  ]),
  c('custom event with two properties', { behavior: { type: 'event', properties: { plan: 'pro', amount: 10 } } }, [
    'ann',
  ]),
  c('custom event property types matter', { behavior: { type: 'event', properties: { amount: '10' } } }, []),
  c('custom event with any properties', { behavior: { type: 'event', subject: 'purchase' } }, ['ann', 'bob']),
  c('opened since a day', opened({ since: '2024-06-10' }), ['ann', 'eve']),
  c('opened any since a day', { behavior: { type: 'email.opened', since: '2024-06-10' } }, ['ann', 'dan', 'eve']),
  c('opened until a relative day (inclusive)', opened({ until: '-30 days' }), ['ann', 'dan']),
  c('opened between since and until', opened({ since: 'last month', until: 'last month' }), ['ann', 'eve']),
  c('opened until an instant', opened({ until: '2024-05-17T12:00:00Z', since: '2024-05-10' }), ['eve']),
  c('not opened E1 within 30 days', { not: opened({ within: '30 days' }) }, ['cat', 'dan', 'fay']),
  c('not opened fewer than twice', { not: opened({ count: { op: 'lt', value: 2 } }) }, ['ann', 'eve']),
];

const NESTING_CASES: Case[] = [
  c('and', { and: [{ tags: { op: 'includesAny', value: ['vip'] } }, { not: { dnc: { channel: 'sms' } } }] }, ['ann']),
  [
    'or',
    (f) => ({ or: [{ field: 'points', op: 'gt', value: 50 }, { segment: { id: f.segments.b } }] }),
    ['dan', 'eve'],
  ],
  c(
    'not of or, with nulls inside',
    {
      not: {
        or: [
          { field: 'email', op: 'empty' },
          { field: 'email', op: 'endsWith', value: '.org' },
        ],
      },
    },
    ['ann', 'dan', 'eve', 'fay'],
  ),
  c(
    'not over a comparison with nulls is its complement',
    { not: { field: 'fields.age', op: 'gt', value: 30 } },
    except('bob'),
  ),
  c('not not', { not: { not: { field: 'points', op: 'eq', value: 10 } } }, ['ann', 'eve']),
  c(
    'deep mix',
    {
      or: [
        { and: [{ field: 'company.name', op: 'eq', value: 'acme' }, opened({ count: { op: 'gte', value: 3 } })] },
        { and: [{ not: { tags: { op: 'notEmpty' } } }, { dnc: { channel: 'email' } }] },
        {
          and: [
            { field: 'fields.interests', op: 'contains', value: ['art'] },
            { not: { field: 'createdAt', op: 'eq', value: 'this month' } },
          ],
        },
      ],
    },
    ['ann', 'cat'],
  ),
];

const GROUPS: [string, Case[]][] = [
  ['text fields', TEXT_CASES],
  ['id fields', ID_CASES],
  ['number fields', NUMBER_CASES],
  ['boolean fields', BOOLEAN_CASES],
  ['multiselect fields', MULTISELECT_CASES],
  ['time fields', TIME_CASES],
  ['date and date-time fields', DATE_CASES],
  ['company fields', COMPANY_CASES],
  ['tags, do-not-contact and segments', RELATION_CASES],
  ['behaviour', BEHAVIOR_CASES],
  ['and / or / not', NESTING_CASES],
];

// ---- running a filter --------------------------------------------------------------------------

const validated = (tree: unknown, f: Fixture): FilterNode => {
  const ids = new Set(Object.values(f.segments));
  const result = validateFilter(tree, { fields: FIELDS, segmentExists: (id) => ids.has(id) });
  if (!result.ok) throw new Error(`filter did not validate: ${result.error.message}`);
  return result.value;
};

const options = (f: Fixture, mode: CompileOptions['mode'], timeZone = 'UTC'): CompileOptions => ({
  organizationId: f.org,
  now: NOW,
  timeZone,
  mode,
});

const toNames = (f: Fixture, ids: string[]) => ids.map((id) => f.names.get(id) ?? `stranger ${id}`).sort();

/** Rebuild mode as a set; single mode evaluated per contact, as the incremental path does. */
async function run(handle: DatabaseHandle, f: Fixture, node: FilterNode, timeZone = 'UTC') {
  const rebuild = toNames(f, await selectMatching(handle, node, options(f, 'rebuild', timeZone)));
  const rows = await handle.rows<{ id: string; matched: boolean }>(
    sql`select ${contacts.id} as id, (${compileFilter(node, options(f, 'single', timeZone))}) is true as matched
      from ${contacts} where ${contacts.organizationId} = ${f.org}::uuid`,
  );
  const single = toNames(
    f,
    rows.filter((r) => r.matched).map((r) => r.id),
  );
  const expected = NAMES.filter((n) => reference(node, n, f, { now: NOW, timeZone })).sort();
  return { rebuild, single, reference: expected };
}

const DATABASES: [string, () => Promise<DatabaseHandle>][] = [
  ['postgres 15', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 2 })],
  ['pglite', () => openDatabase({ memory: true })],
];

describe.each(DATABASES)('segment filters on %s', (_, open) => {
  let handle: DatabaseHandle;
  let f: Fixture;

  beforeAll(async () => {
    handle = await open();
    await runMigrations(handle, { schema: 'crm', folder: MIGRATIONS });
    f = await seed(handle);
  });
  afterAll(() => handle?.close());

  describe.each(GROUPS)('%s', (_group, cases) => {
    it.each(cases)('%s', async (_title, filter, expected, timeZone) => {
      const result = await run(handle, f, validated(filter(f), f), timeZone);
      expect(result.rebuild).toEqual([...expected].sort());
      expect(result.single).toEqual([...expected].sort());
      expect(result.reference).toEqual([...expected].sort());
    });
  });

  it('re-evaluates one contact at a time with the correlated form', async () => {
    const node = validated(opened({ count: { op: 'lt', value: 2 }, within: '30 days' }), f);
    const matched: Name[] = [];
    for (const name of NAMES) {
      const ids = await selectMatching(handle, node, options(f, 'single'), { contactIds: [f.ids[name]] });
      if (ids.length) matched.push(name);
    }
    expect(matched).toEqual(['bob', 'cat', 'dan', 'fay']);
    expect(await countMatching(handle, node, options(f, 'rebuild'))).toBe(4);
    expect(await selectMatching(handle, node, options(f, 'rebuild'), { contactIds: [] })).toEqual([]);
    expect(toNames(f, await selectMatching(handle, node, options(f, 'rebuild'), { limit: 2 }))).toHaveLength(2);
  });

  it("never reads another organization's rows", async () => {
    const everyone = validated(
      {
        or: [
          { field: 'email', op: 'notEmpty' },
          { field: 'email', op: 'empty' },
        ],
      },
      f,
    );
    expect(await countMatching(handle, everyone, options(f, 'rebuild'))).toBe(NAMES.length);
    const theirs = await selectMatching(handle, everyone, { ...options(f, 'rebuild'), organizationId: f.otherOrg });
    expect(theirs).toEqual([f.intruder]);
    // From the other organization, this organization's activities and links are invisible.
    const clicked = validated({ behavior: { type: 'email.clicked', subject: 'E1' } }, f);
    expect(await selectMatching(handle, clicked, { ...options(f, 'single'), organizationId: f.otherOrg })).toEqual([]);
    expect(await selectMatching(handle, clicked, { ...options(f, 'rebuild'), organizationId: f.otherOrg })).toEqual([]);
    const acme = validated({ field: 'company.fields.size', op: 'eq', value: 50 }, f);
    expect(await selectMatching(handle, acme, { ...options(f, 'rebuild'), organizationId: f.otherOrg })).toEqual([
      f.intruder,
    ]);
    expect(toNames(f, await selectMatching(handle, acme, options(f, 'rebuild')))).toEqual(['ann', 'dan']);
  });

  describe('injection attempts stay data', () => {
    const payload = "x'); drop table crm.contacts; --";
    const evilKey = `a'b"); drop table crm.contacts; --`;
    const attempts: [string, unknown][] = [
      ['a text value', { field: 'email', op: 'eq', value: payload }],
      ['a like pattern', { field: 'lastName', op: 'like', value: `%${payload}` }],
      ['a contains fragment', { field: 'fields.nickname', op: 'contains', value: payload }],
      ['a regexp', { field: 'email', op: 'regexp', value: "'; drop table crm.contacts; --" }],
      ['a tag', { tags: { op: 'includesAny', value: [payload] } }],
      ['a list', { field: 'firstName', op: 'in', value: [payload, `${payload}"`] }],
      ['an activity subject', { behavior: { type: 'page.visited', subject: payload } }],
      ['an activity pattern', { behavior: { type: 'page.visited', subjectLike: payload } }],
      ['a property name and value', { behavior: { type: 'event', properties: { [evilKey]: payload } } }],
    ];

    it.each(attempts)('%s matches nothing and drops nothing', async (_what, filter) => {
      const result = await run(handle, f, validated(filter, f));
      expect(result.rebuild).toEqual([]);
      expect(result.single).toEqual([]);
      const [row] = await handle.rows<{ n: number }>(
        sql`select count(*)::int as n from crm.contacts where organization_id = ${f.org}::uuid`,
      );
      expect(Number(row?.n)).toBe(NAMES.length);
    });

    it('refuses field keys, segment ids and activity types that are not names', () => {
      const check = (tree: unknown) => validateFilter(tree, { fields: FIELDS, segmentExists: () => true });
      for (const tree of [
        { field: "fields.a'b", op: 'eq', value: 'x' },
        { field: 'fields.age") or true; --', op: 'eq', value: 1 },
        { field: "company.fields.size'", op: 'gt', value: 1 },
        { segment: { id: "' or 1=1 --" } },
        { behavior: { type: "email.opened' or 1=1 --" } },
      ]) {
        expect(check(tree).ok, JSON.stringify(tree)).toBe(false);
      }
    });
  });

  it('agrees with the reference semantics on random filters, in both modes', async () => {
    await fc.assert(
      fc.asyncProperty(
        randomFilter(f),
        fc.constantFrom('UTC', 'Europe/Paris', 'America/Los_Angeles', 'Pacific/Kiritimati'),
        async (tree, tz) => {
          const result = await run(handle, f, validated(tree, f), tz);
          expect(result.rebuild).toEqual(result.reference);
          expect(result.single).toEqual(result.reference);
        },
      ),
      { numRuns: 150 },
    );
  });
});

// ---- random filters over the fixture -----------------------------------------------------------

function randomFilter(f: Fixture): fc.Arbitrary<unknown> {
  const dates = fc.constantFrom(
    'today',
    'yesterday',
    'tomorrow',
    'now',
    '-7 days',
    '-3 hours',
    '-1 month',
    '+1 week',
    'this week',
    'last week',
    'this month',
    'last month',
    'this year',
    'last year',
    '2024-06-01',
    '2024-06-08T15:00:00Z',
  );
  const ordered = fc.constantFrom('eq', 'neq', 'gt', 'gte', 'lt', 'lte');
  const dateField = fc.constantFrom('createdAt', 'lastActiveAt', 'fields.birthday', 'fields.signup_at');
  const leaf = fc.oneof(
    fc.record({ field: fc.constant('points'), op: ordered, value: fc.integer({ min: -10, max: 110 }) }),
    fc.record({ field: fc.constant('fields.age'), op: ordered, value: fc.integer({ min: 25, max: 50 }) }),
    fc.record({ field: fc.constant('company.fields.size'), op: ordered, value: fc.constantFrom(50, 100, 500) }),
    fc.record({ field: dateField, op: ordered, value: dates }),
    fc.record({ field: dateField, op: fc.constant('eq'), value: fc.constant('anniversary') }),
    fc.record({ field: dateField, op: fc.constant('between'), value: fc.tuple(dates, dates) }),
    fc
      .record({
        field: fc.constantFrom('email', 'lastName', 'fields.nickname', 'company.name', 'company.domain'),
        op: fc.constantFrom(
          'eq',
          'neq',
          'in',
          'notIn',
          'like',
          'notLike',
          'startsWith',
          'endsWith',
          'contains',
          'regexp',
          'notRegexp',
        ),
        value: fc.constantFrom('e', 'a', 'lee', 'ann@example.com', '%e%', 'acme', 'o', '^b', 'ie$', 'Globex Corp'),
      })
      .map((c) => (c.op === 'in' || c.op === 'notIn' ? { ...c, value: [c.value, 'Bobby'] } : c)),
    fc.record({
      field: fc.constantFrom(
        'email',
        'lastName',
        'fields.nickname',
        'fields.age',
        'fields.vip',
        'fields.interests',
        'fields.birthday',
        'owner',
        'company.domain',
        'lastActiveAt',
      ),
      op: fc.constantFrom('empty', 'notEmpty'),
    }),
    fc.record({ field: fc.constant('fields.vip'), op: fc.constantFrom('eq', 'neq'), value: fc.boolean() }),
    fc.record({
      field: fc.constant('fields.interests'),
      op: fc.constantFrom('in', 'notIn', 'contains'),
      value: fc.subarray(['sports', 'music', 'tech', 'art'], { minLength: 1 }),
    }),
    fc.record({
      tags: fc.record({
        op: fc.constantFrom('includesAny', 'includesAll', 'excludesAll'),
        value: fc.subarray(['vip', 'newsletter', 'partner', 'x_y'], { minLength: 1 }),
      }),
    }),
    fc.record({ tags: fc.record({ op: fc.constantFrom('empty', 'notEmpty') }) }),
    fc.record({ dnc: fc.record({ channel: fc.constantFrom('email', 'sms', 'push'), is: fc.boolean() }) }),
    fc.record({ segment: fc.record({ id: fc.constantFrom(f.segments.a, f.segments.b), member: fc.boolean() }) }),
    fc.record({
      behavior: fc.record(
        {
          type: fc.constantFrom('email.opened', 'page.visited', 'event', 'form.submitted'),
          subject: fc.constantFrom('E1', 'E2', 'purchase', 'F1'),
          subjectLike: fc.constantFrom('%pricing%', 'E%', 'https://%'),
          count: fc.record({
            op: fc.constantFrom('gte', 'gt', 'eq', 'lt', 'lte'),
            value: fc.integer({ min: 0, max: 3 }),
          }),
          within: fc.constantFrom('2 days', '30 days', '12 hours', '1 month'),
          since: dates,
          until: dates,
        },
        { requiredKeys: ['type'] },
      ),
    }),
  );
  const { node } = fc.letrec<{ node: unknown }>((tie) => ({
    node: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      leaf,
      fc.record({ and: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
      fc.record({ or: fc.array(tie('node'), { minLength: 1, maxLength: 3 }) }),
      fc.record({ not: tie('node') }),
    ),
  }));
  return node;
}
