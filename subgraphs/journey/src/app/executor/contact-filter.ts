// CRM's segment filter grammar (subgraphs/crm/src/domain/segment-filter.ts) evaluated in memory
// against one contact as the journey context keeps it, or against an event's properties. Pure.
// The grammar's semantics are kept: text compares ignoring case, each negative operator is the
// exact complement of its positive twin (so a missing value matches `neq`), `not` is the exact
// complement of what it wraps, and dates resolve through CRM's own calendar (@mauntic/crm/filter):
// day-sized values ("2024-05-01", "today", "-7 days", "this month") are whole local days in the
// given time zone, while hours, minutes, now and date-times are instants.
//
// Company conditions hold when any of the contact's companies matches (the journey context's copy
// of them, loaded by loadContacts); behaviour conditions count the contact's activity
// (behavior-filter.ts), and lastActiveAt is its last behaviour. What the subject does not hold (an
// event's properties have no companies or activity; the journey context keeps only behaviour
// activity types) evaluates as no match, and the step's outcome says so through `unsupported`.
import { addDays, type DateExpr, localDay, parseDateValue, resolveDate, startOfDay } from '@mauntic/crm/filter';
import { type ActivityHistory, behaviorCondition, behaviorHolds } from './behavior-filter.ts';

export interface FilterSubject {
  /** A field's value by the name a filter uses for it (`email`, `points`, `fields.plan`, `plan`). */
  value(field: string): unknown;
  tags?: readonly string[];
  /** Channels the contact must not be contacted on. */
  dnc?: Readonly<Record<string, unknown>>;
  segments?: ReadonlySet<string>;
  /** The contact's activity, for behaviour conditions and lastActiveAt. */
  activity?: ActivityHistory;
  /** The contact's companies, for `company.*` conditions. */
  companies?: readonly CompanyValues[];
}

export interface CompanyValues {
  name: string;
  domain: string | null;
  fields: Readonly<Record<string, unknown>>;
}

export interface FilterClock {
  now: Date;
  timeZone: string;
}

export interface FilterResult {
  matches: boolean;
  /** Conditions the journey context cannot evaluate (they did not match). */
  unsupported: string[];
}

type Node = Record<string, unknown>;

export function evaluateFilter(filter: unknown, subject: FilterSubject, clock: FilterClock): FilterResult {
  const unsupported = new Set<string>();
  const matches = evaluate(filter, subject, clock, unsupported);
  return { matches, unsupported: [...unsupported] };
}

function evaluate(node: unknown, subject: FilterSubject, clock: FilterClock, unsupported: Set<string>): boolean {
  if (!node || typeof node !== 'object' || Array.isArray(node)) return false;
  const n = node as Node;
  const recurse = (child: unknown) => evaluate(child, subject, clock, unsupported);
  if (Array.isArray(n.and)) return n.and.every(recurse);
  if (Array.isArray(n.or)) return n.or.some(recurse);
  if ('not' in n) return !recurse(n.not);
  if (n.tags && typeof n.tags === 'object') return tagsMatch(n.tags as Node, subject.tags ?? []);
  if (n.dnc && typeof n.dnc === 'object') {
    const { channel, is = true } = n.dnc as { channel?: string; is?: boolean };
    return Boolean(channel && subject.dnc && channel in subject.dnc) === is;
  }
  if (n.segment && typeof n.segment === 'object') {
    const { id, member = true } = n.segment as { id?: string; member?: boolean };
    return Boolean(id && subject.segments?.has(id)) === member;
  }
  if (typeof n.field === 'string') {
    const op = String(n.op);
    if (n.field.startsWith('company.')) {
      if (!subject.companies) return none(unsupported, n.field);
      return companyMatches(n.field, op, n.value, subject.companies, clock);
    }
    if (n.field === 'lastActiveAt') {
      if (!subject.activity) return none(unsupported, n.field);
      return fieldMatches(op, subject.activity.lastActiveAt, n.value, clock);
    }
    return fieldMatches(op, subject.value(n.field), n.value, clock);
  }
  if (n.behavior) {
    const condition = behaviorCondition(n.behavior, clock);
    // No history at all (an event's properties, a caller that loaded none): 'behavior'; a type
    // the journey context does not keep: named.
    if (!condition || !subject.activity) return none(unsupported, 'behavior');
    if (!subject.activity.covers(condition.type)) return none(unsupported, `behavior ${condition.type}`);
    return behaviorHolds(condition, subject.activity);
  }
  return none(unsupported, 'unknown condition');
}

function none(unsupported: Set<string>, what: string): false {
  unsupported.add(what);
  return false;
}

/** True when any company matches; a negative operator is the complement of that, as in CRM. */
function companyMatches(
  field: string,
  op: string,
  expected: unknown,
  companies: readonly CompanyValues[],
  clock: FilterClock,
): boolean {
  const companyValue = (company: CompanyValues) =>
    field === 'company.name'
      ? company.name
      : field === 'company.domain'
        ? company.domain
        : field.startsWith('company.fields.')
          ? company.fields[field.slice('company.fields.'.length)]
          : undefined;
  const positive = NEGATIVE[op];
  const any = (o: string) => companies.some((c) => fieldMatches(o, companyValue(c), expected, clock));
  return positive ? !any(positive) : any(op);
}

function tagsMatch(condition: Node, tags: readonly string[]): boolean {
  const have = new Set(tags.map((t) => t.toLowerCase()));
  const wanted = (Array.isArray(condition.value) ? condition.value : []).map((v) => String(v).toLowerCase());
  switch (condition.op) {
    case 'includesAny':
      return wanted.some((t) => have.has(t));
    case 'includesAll':
      return wanted.every((t) => have.has(t));
    case 'excludesAll':
      return !wanted.some((t) => have.has(t));
    case 'empty':
      return have.size === 0;
    case 'notEmpty':
      return have.size > 0;
    default:
      return false;
  }
}

const NEGATIVE: Record<string, string> = {
  neq: 'eq',
  notIn: 'in',
  notLike: 'like',
  notRegexp: 'regexp',
  empty: 'notEmpty',
};

const isEmpty = (v: unknown) => v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);

function fieldMatches(op: string, actual: unknown, expected: unknown, clock: FilterClock): boolean {
  const positive = NEGATIVE[op];
  if (positive) return !fieldMatches(positive, actual, expected, clock);
  if (op === 'notEmpty') return !isEmpty(actual);
  if (isEmpty(actual)) return false;
  if (Array.isArray(actual)) return multiselectMatches(op, actual.map(String), expected);
  const dated = compareDates(op, actual, expected, clock);
  if (dated !== undefined) return dated;
  if (typeof actual === 'number' || typeof expected === 'number') return compareNumbers(op, Number(actual), expected);
  if (typeof actual === 'boolean') return op === 'eq' && actual === (expected === true || expected === 'true');
  return compareText(op, String(actual), expected);
}

function multiselectMatches(op: string, actual: string[], expected: unknown): boolean {
  const have = new Set(actual.map((v) => v.toLowerCase()));
  const wanted = (Array.isArray(expected) ? expected : [expected]).map((v) => String(v).toLowerCase());
  if (op === 'in' || op === 'eq') return wanted.some((v) => have.has(v));
  if (op === 'contains') return wanted.every((v) => have.has(v));
  return false;
}

function compareNumbers(op: string, actual: number, expected: unknown): boolean {
  if (Number.isNaN(actual)) return false;
  const list = (Array.isArray(expected) ? expected : [expected]).map(Number);
  const [a, b] = list;
  switch (op) {
    case 'eq':
      return actual === a;
    case 'gt':
      return actual > a!;
    case 'gte':
      return actual >= a!;
    case 'lt':
      return actual < a!;
    case 'lte':
      return actual <= a!;
    case 'between':
      return actual >= a! && actual <= b!;
    case 'in':
      return list.includes(actual);
    default:
      return false;
  }
}

function compareText(op: string, actual: string, expected: unknown): boolean {
  const value = actual.toLowerCase();
  const list = (Array.isArray(expected) ? expected : [expected]).map((v) => String(v).toLowerCase());
  const wanted = list[0] ?? '';
  switch (op) {
    case 'eq':
      return value === wanted;
    case 'in':
      return list.includes(value);
    case 'startsWith':
      return value.startsWith(wanted);
    case 'endsWith':
      return value.endsWith(wanted);
    case 'contains':
      return value.includes(wanted);
    case 'like':
      return likePattern(wanted).test(value);
    case 'regexp':
      try {
        return new RegExp(String((Array.isArray(expected) ? expected[0] : expected) ?? ''), 'i').test(actual);
      } catch {
        return false;
      }
    case 'gt':
      return value > wanted;
    case 'gte':
      return value >= wanted;
    case 'lt':
      return value < wanted;
    case 'lte':
      return value <= wanted;
    case 'between':
      return value >= wanted && value <= (list[1] ?? '');
    default:
      return false;
  }
}

function likePattern(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    .replace(/%/g, '.*')
    .replace(/_/g, '.');
  return new RegExp(`^${escaped}$`, 's');
}

// --- dates -----------------------------------------------------------------------------------------
// A stored value is a local day (YYYY-MM-DD, a date field) or an instant; a filter value is resolved
// by CRM's calendar and brought to the stored value's domain as segment-sql.ts's boundOf does: for
// a day, an instant stands for the day it falls on; for an instant, days are [start, next start).

const DAY = /^\d{4}-\d{2}-\d{2}$/;

type Stored = { day: string } | { at: number };
/** A point, or a half-open range, in the stored value's domain (day text or epoch ms). */
type Bound<T> = { point: T } | { from: T; to: T };

function storedDate(actual: unknown): Stored | undefined {
  if (actual instanceof Date) return { at: actual.getTime() };
  if (typeof actual !== 'string') return undefined;
  if (DAY.test(actual)) return { day: actual };
  const parsed = parseDateValue(actual);
  return parsed?.type === 'instant' ? { at: Date.parse(parsed.at) } : undefined;
}

function boundOf(stored: Stored, expr: DateExpr, clock: FilterClock): Bound<string> | Bound<number> {
  const resolved = resolveDate(expr, clock);
  if (resolved.type === 'anniversary') throw new Error('anniversary has no bound');
  if ('day' in stored) {
    if (resolved.type === 'days') return { from: resolved.from, to: resolved.to };
    const day = localDay(resolved.at, clock.timeZone);
    return { from: day, to: addDays(day, 1) };
  }
  if (resolved.type === 'instant') return { point: resolved.at.getTime() };
  return {
    from: startOfDay(resolved.from, clock.timeZone).getTime(),
    to: startOfDay(resolved.to, clock.timeZone).getTime(),
  };
}

function compare<T extends string | number>(value: T, op: string, bound: Bound<T>): boolean {
  if ('point' in bound) {
    const p = bound.point;
    return op === 'eq'
      ? value === p
      : op === 'gt'
        ? value > p
        : op === 'gte'
          ? value >= p
          : op === 'lt'
            ? value < p
            : value <= p;
  }
  switch (op) {
    case 'eq':
      return value >= bound.from && value < bound.to;
    case 'gt':
      return value >= bound.to;
    case 'gte':
      return value >= bound.from;
    case 'lt':
      return value < bound.from;
    default:
      return value < bound.to;
  }
}

/** Date comparisons, or undefined when the values are not dates (then they compare as text or numbers). */
function compareDates(op: string, actual: unknown, expected: unknown, clock: FilterClock): boolean | undefined {
  const stored = storedDate(actual);
  if (!stored) return undefined;
  const exprs = (Array.isArray(expected) ? expected : [expected]).map((v) =>
    typeof v === 'string' ? parseDateValue(v) : undefined,
  );
  if (!exprs.length || exprs.some((e) => e === undefined)) return undefined;
  const value: string | number = 'day' in stored ? stored.day : stored.at;
  const holds = (o: string, expr: DateExpr): boolean => {
    if (expr.type === 'anniversary') {
      if (o !== 'eq') return false;
      const monthDay = localDay(clock.now, clock.timeZone).slice(5);
      const day = 'day' in stored ? stored.day : localDay(new Date(stored.at), clock.timeZone);
      return day.slice(5) === monthDay;
    }
    return compare(value, o, boundOf(stored, expr, clock) as Bound<typeof value>);
  };
  const [first, second] = exprs as DateExpr[];
  switch (op) {
    case 'eq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return holds(op, first!);
    case 'between':
      return holds('gte', first!) && holds('lte', second ?? first!);
    case 'in':
      return (exprs as DateExpr[]).some((e) => holds('eq', e));
    default:
      return false;
  }
}
