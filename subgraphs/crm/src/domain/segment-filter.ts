// The segment filter: the JSON tree a marketer writes, its validation against the organization's
// fields, and the calendar arithmetic its relative dates need. Pure; db/segment-sql.ts turns a
// validated tree into SQL.
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
// Dates take absolute values (2024-05-01, 2024-05-01T10:00:00Z; a date-time needs its offset)
// or relative ones: now, today, yesterday, tomorrow, "-7 days", "+2 weeks", "-3 hours",
// "this|last|next week|month|year", and anniversary (month and day of today, any year; eq only).
// Relative values resolve when the filter is compiled, against the caller's clock and the
// organization's time zone: a day-sized value ("-7 days", 2024-05-01) is that whole local day, so
// gte means "on or after that day" and gt "after that day"; hours, minutes, now and date-times
// are instants. Months clamp to the month's end (-1 month on 31 March is 29 February in 2024).
import { type FieldIssue, fail, isUuid, ok, type Result, ValidationError } from '@mauntic/kernel';
import {
  checkFieldValue,
  FIELD_KEY,
  type FieldDefinition,
  normalizeLocale,
  normalizePhone,
  normalizeTimezone,
  SQL_KIND,
} from './field-types.ts';

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

// ---- dates ---------------------------------------------------------------------------------

export type DateUnit = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';
export type PeriodUnit = 'week' | 'month' | 'year';

export type DateExpr =
  /** An absolute calendar day, YYYY-MM-DD. */
  | { type: 'day'; date: string }
  /** An absolute instant, as an ISO string in UTC. */
  | { type: 'instant'; at: string }
  | { type: 'now' }
  /** today is { amount: 0, unit: 'day' }; day-sized units give a day, hours and minutes an instant. */
  | { type: 'offset'; amount: number; unit: DateUnit }
  /** this month is { shift: 0 }, last month { shift: -1 }. */
  | { type: 'period'; shift: -1 | 0 | 1; unit: PeriodUnit }
  | { type: 'anniversary' };

/** A rolling window that ends now ("30 days"). */
export interface Span {
  amount: number;
  unit: DateUnit;
}

export interface Clock {
  now: Date;
  /** IANA time zone the calendar is read in. */
  timeZone: string;
}

export type ResolvedDate =
  /** Local calendar days [from, to), to exclusive. */
  | { type: 'days'; from: string; to: string }
  | { type: 'instant'; at: Date }
  | { type: 'anniversary'; monthDay: string };

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const OFFSET = /^([+-])\s*(\d{1,4})\s*(minute|hour|day|week|month|year)s?$/;
const SPAN = /^-?\s*(\d{1,4})\s*(minute|hour|day|week|month|year)s?$/;
const PERIOD = /^(this|last|next)\s+(week|month|year)$/;
const NAMED: Record<string, DateExpr> = {
  now: { type: 'now' },
  today: { type: 'offset', amount: 0, unit: 'day' },
  yesterday: { type: 'offset', amount: -1, unit: 'day' },
  tomorrow: { type: 'offset', amount: 1, unit: 'day' },
  anniversary: { type: 'anniversary' },
};

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const ymd = (year: number, month: number, day: number) => `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
const splitDay = (date: string): [number, number, number] => {
  const [y, m, d] = date.split('-').map(Number);
  return [y!, m!, d!];
};
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function isRealDay(value: string): boolean {
  if (!DAY.test(value)) return false;
  const [y, m, d] = splitDay(value);
  return utcDay(Date.UTC(y, m - 1, d)) === value && y >= 1;
}

/** Parses an absolute or relative date value; undefined when it is neither. */
export function parseDateValue(raw: string): DateExpr | undefined {
  const text = raw.trim().toLowerCase();
  const named = NAMED[text];
  if (named) return named;
  if (DAY.test(text)) return isRealDay(text) ? { type: 'day', date: text } : undefined;
  if (DATE_TIME.test(text)) {
    const at = new Date(text.replace(' ', 'T').toUpperCase());
    return Number.isNaN(at.getTime()) ? undefined : { type: 'instant', at: at.toISOString() };
  }
  const offset = OFFSET.exec(text);
  if (offset) {
    const amount = Number(offset[2]) * (offset[1] === '-' ? -1 : 1);
    return { type: 'offset', amount, unit: offset[3] as DateUnit };
  }
  const period = PERIOD.exec(text);
  if (period) {
    const shift = period[1] === 'last' ? -1 : period[1] === 'next' ? 1 : 0;
    return { type: 'period', shift, unit: period[2] as PeriodUnit };
  }
  return undefined;
}

/** Parses a window length: "30 days" and "-30 days" both mean the 30 days up to now. */
export function parseSpan(raw: string): Span | undefined {
  const match = SPAN.exec(raw.trim().toLowerCase());
  return match ? { amount: Number(match[1]), unit: match[2] as DateUnit } : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock reading of an instant in a time zone, as milliseconds of a UTC clock. */
function wallClock(at: Date, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const part: Record<string, number> = {};
  for (const { type, value } of format.formatToParts(at)) part[type] = Number(value);
  const wall = Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!);
  return wall + at.getUTCMilliseconds();
}

/** The instant a wall-clock time (as UTC milliseconds) happens in a time zone. */
function fromWallClock(wall: number, timeZone: string): Date {
  // The offset at the guess can differ from the offset at the answer across a DST change;
  // a second pass with the answer's offset settles it.
  const guess = wall - (wallClock(new Date(wall), timeZone) - wall);
  return new Date(wall - (wallClock(new Date(guess), timeZone) - guess));
}

/** The local calendar day of an instant, YYYY-MM-DD. */
export function localDay(at: Date, timeZone: string): string {
  return utcDay(wallClock(at, timeZone));
}

/** The instant a local calendar day begins. */
export function startOfDay(date: string, timeZone: string): Date {
  const [y, m, d] = splitDay(date);
  return fromWallClock(Date.UTC(y, m - 1, d), timeZone);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = splitDay(date);
  return utcDay(Date.UTC(y, m - 1, d + days));
}

/** Adds calendar months, clamping to the last day of a shorter month. */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = splitDay(date);
  const first = new Date(Date.UTC(y, m - 1 + months, 1));
  const year = first.getUTCFullYear();
  const month = first.getUTCMonth();
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return ymd(year, month + 1, Math.min(d, last));
}

function shiftDay(date: string, amount: number, unit: DateUnit): string {
  switch (unit) {
    case 'week':
      return addDays(date, amount * 7);
    case 'month':
      return addMonths(date, amount);
    case 'year':
      return addMonths(date, amount * 12);
    default:
      return addDays(date, amount);
  }
}

const DAY_MS = 86_400_000;
const EXACT_MS: Partial<Record<DateUnit, number>> = { minute: 60_000, hour: 3_600_000 };

function periodOf(today: string, shift: number, unit: PeriodUnit): { from: string; to: string } {
  const [y, m] = splitDay(today);
  if (unit === 'week') {
    // Weeks start on Monday (ISO 8601).
    const weekday = (new Date(`${today}T00:00:00Z`).getUTCDay() + 6) % 7;
    const from = addDays(today, -weekday + shift * 7);
    return { from, to: addDays(from, 7) };
  }
  const from = unit === 'month' ? addMonths(ymd(y, m, 1), shift) : ymd(y + shift, 1, 1);
  return { from, to: addMonths(from, unit === 'month' ? 1 : 12) };
}

/** Resolves a date value against a clock: a range of local days, an instant, or a month-day. */
export function resolveDate(expr: DateExpr, clock: Clock): ResolvedDate {
  const today = localDay(clock.now, clock.timeZone);
  switch (expr.type) {
    case 'day':
      return { type: 'days', from: expr.date, to: addDays(expr.date, 1) };
    case 'instant':
      return { type: 'instant', at: new Date(expr.at) };
    case 'now':
      return { type: 'instant', at: clock.now };
    case 'offset': {
      const exact = EXACT_MS[expr.unit];
      if (exact) return { type: 'instant', at: new Date(clock.now.getTime() + expr.amount * exact) };
      const day = shiftDay(today, expr.amount, expr.unit);
      return { type: 'days', from: day, to: addDays(day, 1) };
    }
    case 'period':
      return { type: 'days', ...periodOf(today, expr.shift, expr.unit) };
    case 'anniversary':
      return { type: 'anniversary', monthDay: today.slice(5) };
  }
}

/** Where a rolling window that ends now begins: calendar units keep the local time of day. */
export function spanStart(span: Span, clock: Clock): Date {
  const exact = EXACT_MS[span.unit];
  if (exact) return new Date(clock.now.getTime() - span.amount * exact);
  const wall = wallClock(clock.now, clock.timeZone);
  const timeOfDay = ((wall % DAY_MS) + DAY_MS) % DAY_MS;
  const day = shiftDay(utcDay(wall), -span.amount, span.unit);
  return fromWallClock(Date.parse(`${day}T00:00:00Z`) + timeOfDay, clock.timeZone);
}

// ---- the validated tree ---------------------------------------------------------------------

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

export interface ValidationContext {
  /** The organization's custom field definitions (contact and company). */
  fields: readonly FieldDefinition[];
  segmentExists(id: string): boolean;
  /** Nesting of and/or/not allowed (default 10). */
  maxDepth?: number;
  /** Conditions allowed in one tree (default 200). */
  maxConditions?: number;
}

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

// ---- validation -----------------------------------------------------------------------------

const MAX_LIST = 1000;
const MAX_TEXT = 1000;
const MAX_PROPERTIES = 20;
const DECIMAL = /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/;
const ACTIVITY_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$/;
const NODE_KEYS = ['and', 'or', 'not', 'field', 'tags', 'dnc', 'segment', 'behavior'];

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

class Walk {
  readonly issues: FieldIssue[] = [];
  conditions = 0;
  tooMany = false;
  readonly maxDepth: number;
  readonly maxConditions: number;

  constructor(readonly ctx: ValidationContext) {
    this.maxDepth = ctx.maxDepth ?? 10;
    this.maxConditions = ctx.maxConditions ?? 200;
  }

  issue(path: string[], message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }

  /** Reports keys beyond the allowed ones; true when there were none. */
  onlyKeys(raw: Json, allowed: string[], path: string[]): boolean {
    const extra = Object.keys(raw).filter((k) => !allowed.includes(k));
    for (const key of extra) this.issue([...path, key], `is not allowed here (expected ${allowed.join(', ')})`);
    return extra.length === 0;
  }
}

/**
 * Checks a filter tree against the organization's fields and segments and returns it typed and
 * normalized (canonical field values, lower-cased tags, default counts). Every problem is
 * reported with the JSON path of the node that has it, starting at ["filter"].
 */
export function validateFilter(tree: unknown, ctx: ValidationContext): Result<FilterNode, ValidationError> {
  const walk = new Walk(ctx);
  const node = validateNode(tree, ['filter'], 0, walk);
  if (walk.issues.length || !node) {
    return fail(new ValidationError(walk.issues.length ? walk.issues : [{ path: ['filter'], message: 'is invalid' }]));
  }
  return ok(node);
}

function validateNode(raw: unknown, path: string[], depth: number, walk: Walk): FilterNode | undefined {
  if (!isObject(raw)) return walk.issue(path, 'must be an object: {and}, {or}, {not} or a condition');
  const kind = NODE_KEYS.find((k) => k in raw);
  if (!kind) return walk.issue(path, `must have one of: ${NODE_KEYS.join(', ')}`);
  if (kind === 'and' || kind === 'or' || kind === 'not') {
    if (!walk.onlyKeys(raw, [kind], path)) return undefined;
    if (depth >= walk.maxDepth) return walk.issue(path, `is nested too deeply (at most ${walk.maxDepth} levels)`);
    return kind === 'not'
      ? validateNot(raw.not, [...path, 'not'], depth, walk)
      : validateGroup(kind, raw[kind], path, depth, walk);
  }
  walk.conditions += 1;
  if (walk.conditions > walk.maxConditions) {
    if (!walk.tooMany) walk.issue(path, `has too many conditions (at most ${walk.maxConditions})`);
    walk.tooMany = true;
    return undefined;
  }
  switch (kind) {
    case 'field':
      return validateField(raw, path, walk);
    case 'tags':
      return walk.onlyKeys(raw, ['tags'], path) ? validateTags(raw.tags, [...path, 'tags'], walk) : undefined;
    case 'dnc':
      return walk.onlyKeys(raw, ['dnc'], path) ? validateDnc(raw.dnc, [...path, 'dnc'], walk) : undefined;
    case 'segment':
      return walk.onlyKeys(raw, ['segment'], path)
        ? validateSegment(raw.segment, [...path, 'segment'], walk)
        : undefined;
    default:
      return walk.onlyKeys(raw, ['behavior'], path)
        ? validateBehavior(raw.behavior, [...path, 'behavior'], walk)
        : undefined;
  }
}

function validateGroup(kind: 'and' | 'or', raw: unknown, path: string[], depth: number, walk: Walk) {
  const at = [...path, kind];
  if (!Array.isArray(raw) || raw.length === 0) return walk.issue(at, 'must be a non-empty list of filters');
  const nodes = raw.map((child, i) => validateNode(child, [...at, String(i)], depth + 1, walk));
  return nodes.every((n) => n !== undefined) ? { type: kind, nodes: nodes as FilterNode[] } : undefined;
}

function validateNot(raw: unknown, path: string[], depth: number, walk: Walk): FilterNode | undefined {
  const node = validateNode(raw, path, depth + 1, walk);
  return node && { type: 'not', node };
}

/** Resolves a field name to where its value lives, or undefined when the organization has no such field. */
export function resolveField(name: string, fields: readonly FieldDefinition[]): FieldTarget | undefined {
  const standard = Object.hasOwn(STANDARD_FIELDS, name) ? STANDARD_FIELDS[name] : undefined;
  if (standard) return { entity: 'contact', source: 'column', column: standard.column, kind: standard.kind };
  if (name === 'company.name' || name === 'company.domain') {
    return { entity: 'company', source: 'column', column: name === 'company.name' ? 'name' : 'domain', kind: 'text' };
  }
  const custom = /^(company\.)?fields\.(.*)$/.exec(name);
  if (!custom) return undefined;
  const entity = custom[1] ? 'company' : 'contact';
  const key = custom[2]!;
  // Keys reach SQL only as parameters, but a key that could never be defined is refused here.
  if (!FIELD_KEY.test(key)) return undefined;
  const definition = definitionOf(fields, entity, key);
  return definition && { entity, source: 'fields', key, kind: SQL_KIND[definition.type] };
}

function definitionOf(fields: readonly FieldDefinition[], entity: 'contact' | 'company', key: string) {
  return fields.find((f) => f.entity === entity && f.key === key);
}

function validateField(raw: Json, path: string[], walk: Walk): FieldCondition | undefined {
  if (!walk.onlyKeys(raw, ['field', 'op', 'value'], path)) return undefined;
  const { field, op } = raw;
  if (typeof field !== 'string') return walk.issue([...path, 'field'], 'must be a field name');
  const target = resolveField(field, walk.ctx.fields);
  if (!target) return walk.issue([...path, 'field'], `unknown field "${field}"`);
  if (typeof op !== 'string' || !(OPERATORS as readonly string[]).includes(op)) {
    return walk.issue([...path, 'op'], `unknown operator (expected one of: ${OPERATORS.join(', ')})`);
  }
  const allowed = OPERATORS_BY_KIND[target.kind];
  if (!allowed.includes(op as Operator)) {
    return walk.issue(
      [...path, 'op'],
      `"${op}" is not allowed for ${target.kind} fields (allowed: ${allowed.join(', ')})`,
    );
  }
  const value = validateValue(
    raw.value,
    'value' in raw,
    { target, field, op: op as Operator },
    [...path, 'value'],
    walk,
  );
  return value === undefined ? undefined : { type: 'field', field, target, op: op as Operator, value };
}

interface ValueSpec {
  target: FieldTarget;
  field: string;
  op: Operator;
}

function validateValue(
  raw: unknown,
  present: boolean,
  spec: ValueSpec,
  path: string[],
  walk: Walk,
): FilterValue | undefined {
  const { op, target } = spec;
  if (op === 'empty' || op === 'notEmpty') {
    return present && raw !== null ? walk.issue(path, `takes no value with "${op}"`) : null;
  }
  const list = op === 'in' || op === 'notIn' || (op === 'contains' && target.kind === 'array');
  if (op === 'between') {
    if (!Array.isArray(raw) || raw.length !== 2) return walk.issue(path, 'must be a pair [from, to]');
    return scalars(raw, spec, path, walk);
  }
  if (list) {
    if (!Array.isArray(raw) || raw.length === 0) return walk.issue(path, 'must be a non-empty list');
    if (raw.length > MAX_LIST) return walk.issue(path, `must have at most ${MAX_LIST} values`);
    return scalars(raw, spec, path, walk);
  }
  return validateScalar(raw, spec, path, walk);
}

function scalars(raw: unknown[], spec: ValueSpec, path: string[], walk: Walk): FilterScalar[] | undefined {
  const values = raw.map((v, i) => validateScalar(v, spec, [...path, String(i)], walk));
  return values.every((v) => v !== undefined) ? (values as FilterScalar[]) : undefined;
}

const PATTERN_OPS: Operator[] = ['like', 'notLike', 'startsWith', 'endsWith', 'contains'];

function validateScalar(raw: unknown, spec: ValueSpec, path: string[], walk: Walk): FilterScalar | undefined {
  const { target, op } = spec;
  switch (target.kind) {
    case 'numeric': {
      const n = typeof raw === 'string' && DECIMAL.test(raw.trim()) ? Number(raw) : raw;
      return typeof n === 'number' && Number.isFinite(n) ? n : walk.issue(path, 'must be a number');
    }
    case 'boolean':
      return typeof raw === 'boolean' ? raw : walk.issue(path, 'must be true or false');
    case 'uuid':
      return isUuid(raw) ? raw.toLowerCase() : walk.issue(path, 'must be an id (UUID)');
    case 'time': {
      const check = checkFieldValue({ type: 'time', options: {}, required: true }, raw);
      return check.ok ? (check.value as string) : walk.issue(path, check.message);
    }
    case 'date':
    case 'timestamptz':
      return validateDate(raw, op, path, walk);
    case 'array':
      return validateChoice(raw, spec, path, walk);
    case 'text':
      if (typeof raw !== 'string' || raw === '') return walk.issue(path, 'must be a non-empty string');
      if (raw.length > MAX_TEXT) return walk.issue(path, `must be at most ${MAX_TEXT} characters`);
      if (op === 'regexp' || op === 'notRegexp') return validateRegexp(raw, path, walk);
      if (PATTERN_OPS.includes(op)) return raw;
      return exactText(raw, spec, path, walk);
  }
}

function validateDate(raw: unknown, op: Operator, path: string[], walk: Walk): DateExpr | undefined {
  const expr = typeof raw === 'string' ? parseDateValue(raw) : undefined;
  if (!expr) {
    return walk.issue(
      path,
      'must be a date (YYYY-MM-DD), a date-time with its offset, or relative: now, today, yesterday, tomorrow, "-7 days", "this month", "last week", anniversary',
    );
  }
  if (expr.type === 'anniversary' && op !== 'eq') return walk.issue(path, 'anniversary can only be used with eq');
  return expr;
}

// JavaScript forms PostgreSQL's regular expressions lack (named groups, \k and \p escapes).
const UNSUPPORTED_REGEXP = /\(\?<[A-Za-z_]|\\k<|\\[pP]\{/;

function validateRegexp(raw: string, path: string[], walk: Walk): string | undefined {
  // PostgreSQL runs the pattern. JavaScript's parser catches the common mistakes (unbalanced
  // brackets, dangling quantifiers) and the forms above are refused, so a broken pattern is
  // reported here rather than failing a rebuild later.
  try {
    new RegExp(raw);
  } catch {
    return walk.issue(path, 'must be a valid regular expression');
  }
  return UNSUPPORTED_REGEXP.test(raw)
    ? walk.issue(path, 'uses a form PostgreSQL does not support (named groups, \\k, \\p)')
    : raw;
}

/** An exact-match text value, brought to the form the field stores. */
function exactText(raw: string, spec: ValueSpec, path: string[], walk: Walk): string | undefined {
  const { target } = spec;
  if (target.source === 'column') {
    const standard = target.entity === 'contact' ? STANDARD_FIELDS[spec.field] : undefined;
    if (!standard?.normalize) return raw;
    return standard.normalize(raw) ?? walk.issue(path, standard.invalid ?? 'is not a valid value');
  }
  const definition = definitionOf(walk.ctx.fields, target.entity, target.key)!;
  const check = checkFieldValue({ ...definition, required: true }, raw);
  return check.ok ? (check.value as string) : walk.issue(path, check.message);
}

function validateChoice(raw: unknown, spec: ValueSpec, path: string[], walk: Walk): string | undefined {
  const { target } = spec;
  if (typeof raw !== 'string' || target.source !== 'fields') return walk.issue(path, 'must be one of the choices');
  const definition = definitionOf(walk.ctx.fields, target.entity, target.key)!;
  const check = checkFieldValue({ ...definition, required: true }, [raw]);
  return check.ok ? (check.value as string[])[0] : walk.issue(path, check.message);
}

function validateTags(raw: unknown, path: string[], walk: Walk): FilterNode | undefined {
  if (!isObject(raw)) return walk.issue(path, 'must be an object { op, value }');
  if (!walk.onlyKeys(raw, ['op', 'value'], path)) return undefined;
  const op = raw.op as TagOp;
  if (!TAG_OPS.includes(op)) return walk.issue([...path, 'op'], `must be one of: ${TAG_OPS.join(', ')}`);
  if (op === 'empty' || op === 'notEmpty') {
    return raw.value === undefined || raw.value === null
      ? { type: 'tags', op, values: [] }
      : walk.issue([...path, 'value'], `takes no value with "${op}"`);
  }
  const value = raw.value;
  if (!Array.isArray(value) || value.length === 0)
    return walk.issue([...path, 'value'], 'must be a non-empty list of tags');
  if (value.length > MAX_LIST) return walk.issue([...path, 'value'], `must have at most ${MAX_LIST} tags`);
  const values: string[] = [];
  value.forEach((tag, i) => {
    const name = typeof tag === 'string' ? tag.trim().toLowerCase() : '';
    if (!name || name.length > MAX_TEXT) walk.issue([...path, 'value', String(i)], 'must be a tag name');
    else values.push(name);
  });
  return values.length === value.length ? { type: 'tags', op, values: [...new Set(values)] } : undefined;
}

function validateDnc(raw: unknown, path: string[], walk: Walk): FilterNode | undefined {
  if (!isObject(raw)) return walk.issue(path, 'must be an object { channel, is }');
  if (!walk.onlyKeys(raw, ['channel', 'is'], path)) return undefined;
  const channel = raw.channel as DncChannel;
  if (!DNC_CHANNELS.includes(channel))
    return walk.issue([...path, 'channel'], `must be one of: ${DNC_CHANNELS.join(', ')}`);
  const is = raw.is ?? true;
  if (typeof is !== 'boolean') return walk.issue([...path, 'is'], 'must be true or false');
  return { type: 'dnc', channel, is };
}

function validateSegment(raw: unknown, path: string[], walk: Walk): FilterNode | undefined {
  if (!isObject(raw)) return walk.issue(path, 'must be an object { id, member }');
  if (!walk.onlyKeys(raw, ['id', 'member'], path)) return undefined;
  if (!isUuid(raw.id)) return walk.issue([...path, 'id'], 'must be a segment id (UUID)');
  const id = raw.id.toLowerCase();
  if (!walk.ctx.segmentExists(id)) return walk.issue([...path, 'id'], 'unknown segment');
  const member = raw.member ?? true;
  if (typeof member !== 'boolean') return walk.issue([...path, 'member'], 'must be true or false');
  return { type: 'segment', id, member };
}

const BEHAVIOR_KEYS = ['type', 'subject', 'subjectLike', 'properties', 'count', 'within', 'since', 'until'];

function validateBehavior(raw: unknown, path: string[], walk: Walk): FilterNode | undefined {
  if (!isObject(raw)) return walk.issue(path, 'must be an object { type, ... }');
  if (!walk.onlyKeys(raw, BEHAVIOR_KEYS, path)) return undefined;
  const before = walk.issues.length;
  const activity = raw.type;
  if (typeof activity !== 'string' || activity.length > 100 || !ACTIVITY_TYPE.test(activity)) {
    walk.issue(
      [...path, 'type'],
      'must be an activity type such as email.opened, form.submitted, page.visited or event',
    );
  }
  const condition: BehaviorCondition = {
    type: 'behavior',
    activity: activity as string,
    count: { op: 'gte', value: 1 },
  };
  for (const key of ['subject', 'subjectLike'] as const) {
    const value = raw[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value === '' || value.length > 2048)
      walk.issue([...path, key], 'must be a non-empty string');
    else condition[key] = value;
  }
  if (raw.properties !== undefined) {
    const properties = validateProperties(raw.properties, [...path, 'properties'], walk);
    if (properties) condition.properties = properties;
  }
  if (raw.count !== undefined) {
    const count = validateCount(raw.count, [...path, 'count'], walk);
    if (count) condition.count = count;
  }
  if (raw.within !== undefined) {
    const span = typeof raw.within === 'string' ? parseSpan(raw.within) : undefined;
    if (span) condition.within = span;
    else walk.issue([...path, 'within'], 'must be a span such as "30 days", "12 hours" or "-6 months"');
  }
  for (const key of ['since', 'until'] as const) {
    if (raw[key] === undefined) continue;
    const expr = validateDate(raw[key], 'eq', [...path, key], walk);
    if (expr?.type === 'anniversary') walk.issue([...path, key], 'anniversary is not a point in time');
    else if (expr) condition[key] = expr;
  }
  return walk.issues.length === before ? condition : undefined;
}

function validateProperties(raw: unknown, path: string[], walk: Walk) {
  if (!isObject(raw)) return walk.issue(path, 'must be an object of property values');
  const entries = Object.entries(raw);
  if (entries.length === 0 || entries.length > MAX_PROPERTIES) {
    return walk.issue(path, `must have between 1 and ${MAX_PROPERTIES} properties`);
  }
  const properties: Record<string, string | number | boolean> = {};
  for (const [key, value] of entries) {
    const scalar =
      typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
    if (key === '' || key.length > 100) walk.issue([...path, key], 'must be a property name of at most 100 characters');
    else if (!scalar) walk.issue([...path, key], 'must be a string, number or boolean');
    else properties[key] = value;
  }
  return Object.keys(properties).length === entries.length ? properties : undefined;
}

function validateCount(raw: unknown, path: string[], walk: Walk) {
  if (!isObject(raw)) return walk.issue(path, 'must be an object { op, value }');
  if (!walk.onlyKeys(raw, ['op', 'value'], path)) return undefined;
  const op = raw.op as CountOp;
  if (!COUNT_OPS.includes(op)) return walk.issue([...path, 'op'], `must be one of: ${COUNT_OPS.join(', ')}`);
  const value = raw.value;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 1_000_000) {
    return walk.issue([...path, 'value'], 'must be a whole number from 0 to 1000000');
  }
  return { op, value };
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
