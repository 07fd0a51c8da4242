// CRM's segment filter grammar (subgraphs/crm/src/domain/segment-filter.ts) evaluated in memory
// against one contact as the journey context keeps it, or against an event's properties. Pure.
// The grammar's semantics are kept: text compares ignoring case, each negative operator is the
// exact complement of its positive twin (so a missing value matches `neq`), `not` is the exact
// complement of what it wraps, and day-sized dates ("2024-05-01", "today", "-7 days") are whole
// local days in the given time zone while hours, minutes, now and date-times are instants.
//
// What the journey context does not hold evaluates as no match, and the step's outcome says so
// through `unsupported`: behaviour conditions (activity history), company fields, lastActiveAt,
// and "this|last|next week|month|year" periods. A segment condition on a behaviour segment
// covers the first.
import { addDays, localTime, zonedInstant } from './zoned-time.ts';

export interface FilterSubject {
  /** A field's value by the name a filter uses for it (`email`, `points`, `fields.plan`, `plan`). */
  value(field: string): unknown;
  tags?: readonly string[];
  /** Channels the contact must not be contacted on. */
  dnc?: Readonly<Record<string, unknown>>;
  segments?: ReadonlySet<string>;
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
    if (n.field.startsWith('company.') || n.field === 'lastActiveAt') {
      unsupported.add(n.field);
      return false;
    }
    return fieldMatches(String(n.op), subject.value(n.field), n.value, clock, unsupported);
  }
  unsupported.add(n.behavior ? 'behavior' : 'unknown condition');
  return false;
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

function fieldMatches(
  op: string,
  actual: unknown,
  expected: unknown,
  clock: FilterClock,
  unsupported: Set<string>,
): boolean {
  const positive = NEGATIVE[op];
  if (positive) return !fieldMatches(positive, actual, expected, clock, unsupported);
  if (op === 'notEmpty') return !isEmpty(actual);
  if (isEmpty(actual)) return false;
  if (Array.isArray(actual)) return multiselectMatches(op, actual.map(String), expected);
  const dated = compareDates(op, actual, expected, clock, unsupported);
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

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;
const OFFSET = /^([+-])\s*(\d{1,4})\s*(minute|hour|day|week|month|year)s?$/;
const NAMED_DAYS: Record<string, number> = { today: 0, yesterday: -1, tomorrow: 1 };

/** A filter value as a range of instants [from, to) (a day), an instant, or an anniversary. */
type Resolved = { from: number; to: number } | { at: number } | { anniversary: true } | { unsupported: true };

function resolveDate(value: unknown, clock: FilterClock): Resolved | undefined {
  if (typeof value !== 'string') return undefined;
  const v = value.trim().toLowerCase();
  const local = localTime(clock.now, clock.timeZone);
  const dayRange = (date: { year: number; month: number; day: number }) => ({
    from: zonedInstant(date, { hour: 0, minute: 0 }, clock.timeZone).getTime(),
    to: zonedInstant(addDays(date, 1), { hour: 0, minute: 0 }, clock.timeZone).getTime(),
  });
  if (v === 'now') return { at: clock.now.getTime() };
  if (v === 'anniversary') return { anniversary: true };
  if (v in NAMED_DAYS) return dayRange(addDays(local, NAMED_DAYS[v]!));
  if (/^(this|last|next)\s+(week|month|year)$/.test(v)) return { unsupported: true };
  if (DAY.test(v)) {
    const [year, month, day] = v.split('-').map(Number) as [number, number, number];
    return dayRange({ year, month, day });
  }
  if (DATE_TIME.test(v)) {
    const at = Date.parse(value);
    return Number.isNaN(at) ? undefined : { at };
  }
  const offset = OFFSET.exec(v);
  if (!offset) return undefined;
  const amount = Number(offset[2]) * (offset[1] === '-' ? -1 : 1);
  const unit = offset[3]!;
  if (unit === 'minute' || unit === 'hour')
    return { at: clock.now.getTime() + amount * (unit === 'minute' ? 60_000 : 3_600_000) };
  if (unit === 'day' || unit === 'week') return dayRange(addDays(local, amount * (unit === 'week' ? 7 : 1)));
  const months = amount * (unit === 'year' ? 12 : 1);
  const first = new Date(Date.UTC(local.year, local.month - 1 + months, 1));
  const lastDay = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 0)).getUTCDate();
  return dayRange({ year: first.getUTCFullYear(), month: first.getUTCMonth() + 1, day: Math.min(local.day, lastDay) });
}

/** A stored value as an instant, or a day-only value as its local day. */
function actualDate(actual: unknown, clock: FilterClock): { from: number; to: number } | undefined {
  if (actual instanceof Date) return { from: actual.getTime(), to: actual.getTime() + 1 };
  if (typeof actual !== 'string') return undefined;
  if (DAY.test(actual)) return resolveDate(actual, clock) as { from: number; to: number };
  if (!DATE_TIME.test(actual)) return undefined;
  const at = Date.parse(actual);
  return Number.isNaN(at) ? undefined : { from: at, to: at + 1 };
}

/** Date comparisons, or undefined when the values are not dates (then they compare as text or numbers). */
function compareDates(
  op: string,
  actual: unknown,
  expected: unknown,
  clock: FilterClock,
  unsupported: Set<string>,
): boolean | undefined {
  const stored = actualDate(actual, clock);
  if (!stored) return undefined;
  const values = (Array.isArray(expected) ? expected : [expected]).map((v) => resolveDate(v, clock));
  if (values.some((v) => v === undefined)) return undefined;
  const resolved = values as Resolved[];
  if (resolved.some((r) => 'unsupported' in r)) {
    unsupported.add('relative period');
    return false;
  }
  const at = stored.from;
  const span = (r: Resolved) => ('at' in r ? { from: r.at, to: r.at + 1 } : (r as { from: number; to: number }));
  const first = resolved[0]!;
  if ('anniversary' in first) {
    if (op !== 'eq') return false;
    const a = localTime(new Date(at), clock.timeZone);
    const today = localTime(clock.now, clock.timeZone);
    return a.month === today.month && a.day === today.day;
  }
  const { from, to } = span(first);
  switch (op) {
    case 'eq':
      return at >= from && at < to;
    case 'gt':
      return at >= to;
    case 'gte':
      return at >= from;
    case 'lt':
      return at < from;
    case 'lte':
      return at < to;
    case 'between': {
      const last = resolved[1] ? span(resolved[1]) : { from, to };
      return at >= from && at < last.to;
    }
    case 'in':
      return resolved.some((r) => !('anniversary' in r) && at >= span(r).from && at < span(r).to);
    default:
      return false;
  }
}
