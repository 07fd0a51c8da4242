// Behaviour conditions of CRM's filter grammar ({ "behavior": { type, subject, subjectLike,
// properties, count, within, since, until } }) counted in memory over a contact's activity as the
// journey context keeps it (activity-projection.ts), with the meaning CRM's SQL compiler gives
// them (subgraphs/crm/src/db/segment-sql.ts): subject is exact, subjectLike an ILIKE pattern,
// properties a JSONB containment of scalars, the window [within or since, until] resolved by CRM's
// own calendar, and the count compared as countHolds does (so "fewer than 2" holds with none). Pure.
import {
  type Clock,
  type CountOp,
  countHolds,
  parseDateValue,
  parseSpan,
  resolveDate,
  spanStart,
  startOfDay,
} from '@mauntic/crm/filter';

export interface Activity {
  type: string;
  subject: string | null;
  properties: Record<string, unknown>;
  /** When it happened, in epoch milliseconds. */
  at: number;
}

/** What the journey context holds of a contact's activity, as far back as its conditions read. */
export interface ActivityHistory {
  /** Whether the journey context keeps this activity type (it keeps behaviour, not bookkeeping). */
  covers(type: string): boolean;
  /** The contact's activities of one type. */
  of(type: string): readonly Activity[];
  /** The last behaviour (opens, clicks, forms, pages, custom events), as CRM's lastActiveAt. */
  lastActiveAt: Date | null;
}

export interface BehaviorCondition {
  type: string;
  subject?: string;
  subjectLike?: string;
  properties?: Record<string, unknown>;
  count: { op: CountOp; value: number };
  /** Activities at or after this instant count (ms). */
  from?: number;
  /** Activities before this instant count (ms); `through` for an instant bound, which is inclusive. */
  before?: number;
  through?: number;
}

type Raw = Record<string, unknown>;
const COUNT_OPS = new Set(['gte', 'gt', 'eq', 'lt', 'lte']);

/** A raw behaviour node resolved against the clock, or undefined when it is malformed. */
export function behaviorCondition(raw: unknown, clock: Clock): BehaviorCondition | undefined {
  if (!raw || typeof raw !== 'object') return undefined;
  const b = raw as Raw;
  if (typeof b.type !== 'string') return undefined;
  const count = (b.count ?? { op: 'gte', value: 1 }) as { op: CountOp; value: number };
  if (!COUNT_OPS.has(count.op) || typeof count.value !== 'number') return undefined;
  const condition: BehaviorCondition = { type: b.type, count };
  if (typeof b.subject === 'string') condition.subject = b.subject;
  if (typeof b.subjectLike === 'string') condition.subjectLike = b.subjectLike;
  if (b.properties && typeof b.properties === 'object') condition.properties = b.properties as Raw;
  const starts: number[] = [];
  if (b.within !== undefined) {
    const span = typeof b.within === 'string' ? parseSpan(b.within) : undefined;
    if (!span) return undefined;
    starts.push(spanStart(span, clock).getTime());
  }
  if (b.since !== undefined) {
    const since = typeof b.since === 'string' ? parseDateValue(b.since) : undefined;
    if (!since) return undefined;
    const resolved = resolveDate(since, clock);
    if (resolved.type === 'days') starts.push(startOfDay(resolved.from, clock.timeZone).getTime());
    else if (resolved.type === 'instant') starts.push(resolved.at.getTime());
  }
  if (starts.length) condition.from = Math.max(...starts);
  if (b.until !== undefined) {
    const until = typeof b.until === 'string' ? parseDateValue(b.until) : undefined;
    if (!until) return undefined;
    const resolved = resolveDate(until, clock);
    if (resolved.type === 'days') condition.before = startOfDay(resolved.to, clock.timeZone).getTime();
    else if (resolved.type === 'instant') condition.through = resolved.at.getTime();
  }
  return condition;
}

/** Whether the contact's activity satisfies the condition. */
export function behaviorHolds(condition: BehaviorCondition, history: ActivityHistory): boolean {
  const like = condition.subjectLike === undefined ? undefined : ilike(condition.subjectLike);
  let n = 0;
  for (const a of history.of(condition.type)) {
    if (condition.from !== undefined && a.at < condition.from) continue;
    if (condition.before !== undefined && a.at >= condition.before) continue;
    if (condition.through !== undefined && a.at > condition.through) continue;
    if (condition.subject !== undefined && a.subject !== condition.subject) continue;
    if (like && (a.subject === null || !like.test(a.subject))) continue;
    if (condition.properties && !contains(a.properties, condition.properties)) continue;
    n += 1;
  }
  return countHolds(condition.count, n);
}

/** PostgreSQL's ILIKE: % any run, _ one character, a backslash takes the next one literally. */
function ilike(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '\\' && i + 1 < pattern.length) source += literal(pattern[++i]!);
    else if (ch === '%') source += '.*';
    else if (ch === '_') source += '.';
    else source += literal(ch);
  }
  return new RegExp(`^${source}$`, 'is');
}

const literal = (ch: string) => ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** JSONB `@>` for an object of scalars: each key present with an equal value of the same JSON type. */
function contains(properties: Record<string, unknown>, wanted: Record<string, unknown>): boolean {
  return Object.entries(wanted).every(([key, value]) => Object.hasOwn(properties, key) && properties[key] === value);
}

/**
 * The earliest activity a filter's behaviour conditions can count, per activity type, so a batch
 * loads no more history than its conditions read: null when a condition has no lower bound.
 * Bounds are computed in UTC a day early, which covers every time zone a run may evaluate in.
 */
export function activityNeeds(filters: Iterable<unknown>, now: Date, into = new Map<string, number | null>()) {
  const clock = { now, timeZone: 'UTC' };
  const visit = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const n = node as Raw;
    if (Array.isArray(n.and)) n.and.forEach(visit);
    else if (Array.isArray(n.or)) n.or.forEach(visit);
    else if ('not' in n) visit(n.not);
    else if (n.behavior) {
      const condition = behaviorCondition(n.behavior, clock);
      if (!condition) return;
      const from = condition.from === undefined ? null : condition.from - 86_400_000;
      const known = into.get(condition.type);
      into.set(condition.type, known === null || from === null ? null : Math.min(known ?? from, from));
    }
  };
  for (const filter of filters) visit(filter);
  return into;
}
