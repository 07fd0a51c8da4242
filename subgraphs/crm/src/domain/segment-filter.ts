// The segment filter grammar: the JSON tree a marketer writes and the typed tree it becomes once
// checked, with what a tree depends on. Pure. segment-filter-validation.ts checks a tree against
// the organization's fields, relative-dates.ts resolves its dates, and db/segment-sql.ts turns a
// checked tree into SQL.
//
// A filter is a tree of nodes:
//   { "and": [node, ...] }   { "or": [node, ...] }   { "not": node }   or a condition.
//
// Conditions:
//   field     { "field": "email", "op": "endsWith", "value": "@example.com" }
//             field is a standard contact field (email, firstName, lastName, phone, timezone, locale,
//             points, createdAt, updatedAt, lastActiveAt, owner, stage), "fields.<key>" (a contact
//             custom field), "company.name", "company.domain" or "company.fields.<key>" (true when
//             any linked company matches). "value" is absent for empty/notEmpty, a pair for between
//             and a list for in/notIn (and for multiselect contains).
//   tags      { "tags": { "op": "includesAny", "value": ["vip", "partner"] } }
//             op: includesAny | includesAll | excludesAll | empty | notEmpty (no value for the last two).
//   dnc       { "dnc": { "channel": "email", "is": true } }         ("is" defaults to true)
//   segment   { "segment": { "id": "<uuid>", "member": false } }   ("member" defaults to true)
//   behavior  { "behavior": { "type": "email.opened", "subject": "<email id>",
//                              "count": { "op": "gte", "value": 2 }, "within": "30 days" } }
//             optional: subject (exact), subjectLike (ILIKE pattern, e.g. "%/pricing%"),
//             properties ({ "plan": "pro" }: each must equal), count (default gte 1; counts that
//             zero satisfies, e.g. lt 2, include contacts with no activity at all), within
//             ("30 days" or "-30 days": a rolling window ending now), since / until (dates).
//
// Examples:
//   { "and": [ { "field": "fields.plan", "op": "in", "value": ["pro", "enterprise"] },
//              { "not": { "dnc": { "channel": "email" } } } ] }
//   { "or": [ { "tags": { "op": "includesAny", "value": ["vip"] } },
//             { "field": "points", "op": "between", "value": [50, 100] } ] }
//   { "field": "createdAt", "op": "gte", "value": "-7 days" }
//   { "field": "fields.birthday", "op": "eq", "value": "anniversary" }
//
// Operators by kind of value (OPERATORS_BY_KIND; custom fields map to a kind through SQL_KIND):
//   text (and email, url, tel, select, country, ...): eq neq in notIn empty notEmpty like notLike
//                                       regexp notRegexp startsWith endsWith contains
//   number, date, date-time, time:      eq neq gt gte lt lte between in notIn empty notEmpty
//   boolean:                            eq neq empty notEmpty
//   multiselect:                        in (any of) notIn contains (all of) empty notEmpty
//   owner, stage (ids):                 eq neq in notIn empty notEmpty
// Text comparisons ignore case. like takes a pattern as written (% and _ are wildcards);
// startsWith, endsWith and contains match their value literally; regexp is a PostgreSQL regular
// expression. between is inclusive at both ends. Each negative operator (neq, notIn, notLike,
// notRegexp, empty) is the exact complement of its positive twin, so a contact without a value
// matches "neq x", and { "not": ... } is the exact complement of what it wraps.
//
// Dates take absolute or relative values (now, today, "-7 days", "this month", anniversary...):
// see relative-dates.ts.
import { fail, ok, type Result, ValidationError } from '@mauntic/kernel';
import { normalizeLocale, normalizePhone, normalizeTimezone } from './field-types.ts';
import type { DateExpr, Span } from './relative-dates.ts';

export const OPERATORS = [
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'empty',
  'notEmpty',
  'like',
  'notLike',
  'between',
  'in',
  'notIn',
  'regexp',
  'notRegexp',
  'startsWith',
  'endsWith',
  'contains',
] as const;
export type Operator = (typeof OPERATORS)[number];

/** The value domains a condition can compare. Custom fields map here through SQL_KIND. */
export type ValueKind = 'text' | 'uuid' | 'numeric' | 'boolean' | 'date' | 'timestamptz' | 'time' | 'array';

const ORDERED: Operator[] = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'notIn', 'empty', 'notEmpty'];

/** Which operators each kind of value allows. */
export const OPERATORS_BY_KIND: Record<ValueKind, readonly Operator[]> = {
  text: [
    'eq',
    'neq',
    'in',
    'notIn',
    'empty',
    'notEmpty',
    'like',
    'notLike',
    'regexp',
    'notRegexp',
    'startsWith',
    'endsWith',
    'contains',
  ],
  uuid: ['eq', 'neq', 'in', 'notIn', 'empty', 'notEmpty'],
  numeric: ORDERED,
  date: ORDERED,
  timestamptz: ORDERED,
  time: ORDERED,
  boolean: ['eq', 'neq', 'empty', 'notEmpty'],
  array: ['in', 'notIn', 'contains', 'empty', 'notEmpty'],
};

/** A negative operator is compiled as the complement of its positive twin. */
export const POSITIVE_TWIN: Partial<Record<Operator, Operator>> = {
  neq: 'eq',
  notIn: 'in',
  notLike: 'like',
  notRegexp: 'regexp',
  empty: 'notEmpty',
};

export type ContactColumn =
  | 'email'
  | 'firstName'
  | 'lastName'
  | 'phone'
  | 'timezone'
  | 'locale'
  | 'points'
  | 'createdAt'
  | 'updatedAt'
  | 'lastActiveAt'
  | 'ownerId'
  | 'stageId';

interface StandardField {
  column: ContactColumn;
  kind: ValueKind;
  /** Brings an exact-match value to the stored form, or null when it can never be stored. */
  normalize?: (value: string) => string | null;
  invalid?: string;
}

/** Contact columns by the name a filter uses for them. */
export const STANDARD_FIELDS: Record<string, StandardField> = {
  email: { column: 'email', kind: 'text' },
  firstName: { column: 'firstName', kind: 'text' },
  lastName: { column: 'lastName', kind: 'text' },
  phone: { column: 'phone', kind: 'text', normalize: normalizePhone, invalid: 'must be a phone number' },
  timezone: { column: 'timezone', kind: 'text', normalize: normalizeTimezone, invalid: 'must be an IANA time zone' },
  locale: { column: 'locale', kind: 'text', normalize: normalizeLocale, invalid: 'must be a BCP 47 locale' },
  points: { column: 'points', kind: 'numeric' },
  createdAt: { column: 'createdAt', kind: 'timestamptz' },
  updatedAt: { column: 'updatedAt', kind: 'timestamptz' },
  lastActiveAt: { column: 'lastActiveAt', kind: 'timestamptz' },
  owner: { column: 'ownerId', kind: 'uuid' },
  stage: { column: 'stageId', kind: 'uuid' },
};

export type FieldTarget =
  | { entity: 'contact'; source: 'column'; column: ContactColumn; kind: ValueKind }
  | { entity: 'company'; source: 'column'; column: 'name' | 'domain'; kind: 'text' }
  | { entity: 'contact' | 'company'; source: 'fields'; key: string; kind: ValueKind };

// ---- the checked tree -----------------------------------------------------------------------

export type DateValue = DateExpr;
export type FilterScalar = string | number | boolean | DateValue;
/** absent for empty/notEmpty, a pair for between, a list for in/notIn/contains(multiselect). */
export type FilterValue = FilterScalar | FilterScalar[] | null;

export interface FieldCondition {
  type: 'field';
  /** The name as written: "email", "fields.age", "company.fields.size". */
  field: string;
  target: FieldTarget;
  op: Operator;
  value: FilterValue;
}

export const TAG_OPS = ['includesAny', 'includesAll', 'excludesAll', 'empty', 'notEmpty'] as const;
export type TagOp = (typeof TAG_OPS)[number];
export const DNC_CHANNELS = ['email', 'sms', 'push'] as const;
export type DncChannel = (typeof DNC_CHANNELS)[number];
export const COUNT_OPS = ['gte', 'gt', 'eq', 'lt', 'lte'] as const;
export type CountOp = (typeof COUNT_OPS)[number];

export interface BehaviorCondition {
  type: 'behavior';
  /** The activity type, e.g. email.opened, form.submitted, page.visited, event. */
  activity: string;
  subject?: string;
  subjectLike?: string;
  properties?: Record<string, string | number | boolean>;
  count: { op: CountOp; value: number };
  within?: Span;
  since?: DateExpr;
  until?: DateExpr;
}

export type FilterNode =
  | { type: 'and'; nodes: FilterNode[] }
  | { type: 'or'; nodes: FilterNode[] }
  | { type: 'not'; node: FilterNode }
  | FieldCondition
  | { type: 'tags'; op: TagOp; values: string[] }
  | { type: 'dnc'; channel: DncChannel; is: boolean }
  | { type: 'segment'; id: string; member: boolean }
  | BehaviorCondition;

/** Whether a count comparison holds, e.g. for zero: does "fewer than 2" include no activity? */
export function countHolds(count: { op: CountOp; value: number }, n: number): boolean {
  switch (count.op) {
    case 'gte':
      return n >= count.value;
    case 'gt':
      return n > count.value;
    case 'eq':
      return n === count.value;
    case 'lt':
      return n < count.value;
    case 'lte':
      return n <= count.value;
  }
}

// ---- what a tree depends on -----------------------------------------------------------------

function conditionsOf(node: FilterNode): Exclude<FilterNode, { type: 'and' | 'or' | 'not' }>[] {
  switch (node.type) {
    case 'and':
    case 'or':
      return node.nodes.flatMap(conditionsOf);
    case 'not':
      return conditionsOf(node.node);
    default:
      return [node];
  }
}

/** The segments a tree's membership conditions name, each once. */
export function referencedSegments(node: FilterNode): string[] {
  return [...new Set(conditionsOf(node).flatMap((c) => (c.type === 'segment' ? [c.id] : [])))];
}

/**
 * What a tree reads, so a change can re-evaluate only the segments it can affect: standard field
 * names (email, points, owner, stage, createdAt, ...), "fields.<key>", and tags, dnc, company,
 * activities, segments.
 */
export function referencedFields(node: FilterNode): Set<string> {
  const names = new Set<string>();
  for (const c of conditionsOf(node)) {
    if (c.type === 'field') names.add(c.target.entity === 'company' ? 'company' : c.field);
    else if (c.type === 'tags' || c.type === 'dnc') names.add(c.type);
    else if (c.type === 'segment') names.add('segments');
    else names.add('activities');
  }
  return names;
}

/** Whether membership can change with time alone (relative dates, activity windows), so it needs periodic rebuilds. */
export function isTimeDependent(node: FilterNode): boolean {
  const relative = (e: DateExpr | undefined) => e !== undefined && e.type !== 'day' && e.type !== 'instant';
  return conditionsOf(node).some((c) => {
    if (c.type === 'behavior') return c.within !== undefined || relative(c.since) || relative(c.until);
    if (c.type !== 'field' || (c.target.kind !== 'date' && c.target.kind !== 'timestamptz')) return false;
    const values = Array.isArray(c.value) ? c.value : [c.value];
    return values.some((v) => typeof v === 'object' && v !== null && relative(v));
  });
}

/**
 * Refuses a segment whose filter reaches itself through segment membership conditions.
 * `getFilter` gives each segment's validated filter (the proposed one for `segmentId`), or
 * undefined for static segments.
 */
export function detectCycle(
  segmentId: string,
  getFilter: (id: string) => FilterNode | undefined,
): Result<void, ValidationError> {
  const done = new Set<string>();
  const visit = (id: string, trail: string[]): string[] | undefined => {
    const filter = getFilter(id);
    if (!filter) return undefined;
    for (const next of referencedSegments(filter)) {
      if (next === segmentId) return [...trail, next];
      if (done.has(next) || trail.includes(next)) continue;
      const cycle = visit(next, [...trail, next]);
      if (cycle) return cycle;
    }
    done.add(id);
    return undefined;
  };
  const cycle = visit(segmentId, [segmentId]);
  if (!cycle) return ok(undefined);
  return fail(
    new ValidationError([
      { path: ['filter'], message: `segments refer to each other in a cycle: ${cycle.join(' → ')}` },
    ]),
  );
}
