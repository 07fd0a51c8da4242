// Compiles a validated segment filter to one SQL predicate over crm.contacts. Every value the
// filter carries, field keys included, is a bound parameter; the only SQL text here is ours.
// The caller scopes the outer query by organization; every subquery here scopes itself too.
import type { DatabaseHandle } from '@mauntic/platform';
import { type SQL, sql } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import {
  addDays,
  type Clock,
  type DateExpr,
  localDay,
  resolveDate,
  spanStart,
  startOfDay,
} from '../domain/relative-dates.ts';
import {
  type BehaviorCondition,
  type CountOp,
  countHolds,
  type FieldCondition,
  type FieldTarget,
  type FilterNode,
  type FilterScalar,
  POSITIVE_TWIN,
  type TagOp,
} from '../domain/segment-filter.ts';
import { activities, companies, contactCompanies, contacts, doNotContact, segmentMembers } from './schema.ts';

export interface CompileOptions {
  organizationId: string;
  /** The clock relative dates and activity windows resolve against (never SQL now()). */
  now: Date;
  /** The organization's IANA time zone (default UTC). */
  timeZone?: string;
  /**
   * rebuild: set-based behaviour subqueries (one aggregate over activities for all contacts);
   * single: correlated ones that read one contact's activities through its index. Same result.
   */
  mode: 'rebuild' | 'single';
}

interface Compiler {
  org: SQL;
  clock: Clock;
  mode: CompileOptions['mode'];
}

/** The filter as a boolean SQL expression over the `contacts` table. */
export function compileFilter(node: FilterNode, options: CompileOptions): SQL {
  const compiler: Compiler = {
    org: sql`${options.organizationId}::uuid`,
    clock: { now: options.now, timeZone: options.timeZone ?? 'UTC' },
    mode: options.mode,
  };
  return compileNode(node, compiler);
}

function compileNode(node: FilterNode, c: Compiler): SQL {
  switch (node.type) {
    case 'and':
    case 'or':
      return sql`(${sql.join(
        node.nodes.map((n) => compileNode(n, c)),
        node.type === 'and' ? sql` and ` : sql` or `,
      )})`;
    case 'not':
      return complement(compileNode(node.node, c));
    case 'field':
      return compileField(node, c);
    case 'tags':
      return compileTags(node.op, node.values);
    case 'dnc':
      return holds(
        node.is,
        sql`exists (select 1 from ${doNotContact} where ${doNotContact.organizationId} = ${c.org}
          and ${doNotContact.contactId} = ${contacts.id} and ${doNotContact.channel} = ${node.channel}::text)`,
      );
    case 'segment':
      return holds(
        node.member,
        sql`exists (select 1 from ${segmentMembers} where ${segmentMembers.organizationId} = ${c.org}
          and ${segmentMembers.segmentId} = ${node.id}::uuid and ${segmentMembers.contactId} = ${contacts.id})`,
      );
    case 'behavior':
      return compileBehavior(node, c);
  }
}

/** True exactly where the predicate is not true: NULL (an unknown comparison) counts as not matching. */
const complement = (predicate: SQL) => sql`((${predicate}) is not true)`;
const holds = (wanted: boolean, predicate: SQL) => (wanted ? predicate : sql`(not ${predicate})`);

// ---- fields ----------------------------------------------------------------------------------

/** Where a field's value is read from: its SQL expression and, for custom fields, its JSONB map and key. */
interface Operand {
  kind: FieldTarget['kind'];
  expr: SQL;
  /** Custom fields: the JSONB column and the key, for containment tests that use the GIN index. */
  json?: { column: AnyPgColumn; key: string };
  /** Custom date, date-time and time values compare as their canonical text. */
  canonicalText: boolean;
}

function compileField(condition: FieldCondition, c: Compiler): SQL {
  const twin = POSITIVE_TWIN[condition.op];
  if (twin) return complement(compileField({ ...condition, op: twin }, c));
  const { target } = condition;
  if (target.entity === 'contact') return fieldPredicate(operandOf(target), condition, c);
  // A company condition holds when any of the contact's companies matches.
  return sql`exists (select 1 from ${contactCompanies} join ${companies} on ${companies.id} = ${contactCompanies.companyId}
    where ${contactCompanies.organizationId} = ${c.org} and ${companies.organizationId} = ${c.org}
    and ${contactCompanies.contactId} = ${contacts.id} and ${fieldPredicate(operandOf(target), condition, c)})`;
}

function operandOf(target: FieldTarget): Operand {
  if (target.source === 'column') {
    const column = target.entity === 'contact' ? contacts[target.column] : companies[target.column];
    return { kind: target.kind, expr: sql`${column}`, canonicalText: false };
  }
  const column = target.entity === 'contact' ? contacts.fields : companies.fields;
  const key = sql`${target.key}::text`;
  const json = { column, key: target.key };
  switch (target.kind) {
    case 'numeric':
      // A value stored before a field changed type must not break the query with a failed cast.
      return {
        kind: 'numeric',
        expr: sql`(case when jsonb_typeof(${column} -> ${key}) = 'number' then (${column} ->> ${key})::numeric end)`,
        json,
        canonicalText: false,
      };
    case 'date':
    case 'timestamptz':
    case 'time':
      // Canonical forms (YYYY-MM-DD, toISOString, HH:MM:SS) sort as text byte by byte: no cast to fail.
      return { kind: target.kind, expr: sql`((${column} ->> ${key}) collate "C")`, json, canonicalText: true };
    default:
      return { kind: target.kind, expr: sql`(${column} ->> ${key})`, json, canonicalText: false };
  }
}

function fieldPredicate(operand: Operand, condition: FieldCondition, c: Compiler): SQL {
  switch (operand.kind) {
    case 'text':
      return textPredicate(operand, condition);
    case 'uuid':
      return uuidPredicate(operand, condition);
    case 'boolean':
      return booleanPredicate(operand, condition);
    case 'array':
      return arrayPredicate(operand, condition);
    default:
      return orderedPredicate(operand, condition, c);
  }
}

const list = (values: SQL[]) => sql.join(values, sql`, `);
const anyOf = (predicates: SQL[]) => sql`(${sql.join(predicates, sql` or `)})`;
const asList = (value: FieldCondition['value']) => (Array.isArray(value) ? value : [value]) as FilterScalar[];
const escapeLike = (text: string) => text.replace(/[\\%_]/g, '\\$&');

function textPredicate({ expr }: Operand, { op, value }: FieldCondition): SQL {
  const text = value as string;
  switch (op) {
    case 'eq':
      return sql`lower(${expr}) = lower(${text}::text)`;
    case 'in':
      return sql`lower(${expr}) in (${list(asList(value).map((v) => sql`lower(${v as string}::text)`))})`;
    case 'notEmpty':
      return sql`(${expr} <> '')`;
    case 'like':
      return sql`(${expr} ilike ${text}::text)`;
    case 'startsWith':
      return sql`(${expr} ilike ${`${escapeLike(text)}%`}::text)`;
    case 'endsWith':
      return sql`(${expr} ilike ${`%${escapeLike(text)}`}::text)`;
    case 'contains':
      return sql`(${expr} ilike ${`%${escapeLike(text)}%`}::text)`;
    case 'regexp':
      return sql`(${expr} ~* ${text}::text)`;
    default:
      throw new Error(`operator ${op} is not compiled for text`);
  }
}

function uuidPredicate({ expr }: Operand, { op, value }: FieldCondition): SQL {
  switch (op) {
    case 'eq':
      return sql`(${expr} = ${value as string}::uuid)`;
    case 'in':
      return sql`(${expr} in (${list(asList(value).map((v) => sql`${v as string}::uuid`))}))`;
    case 'notEmpty':
      return sql`(${expr} is not null)`;
    default:
      throw new Error(`operator ${op} is not compiled for ids`);
  }
}

/** Custom booleans: containment in the JSONB map, which the GIN index on fields answers. */
function booleanPredicate({ json }: Operand, { op, value }: FieldCondition): SQL {
  const { column, key } = json!;
  switch (op) {
    case 'eq':
      return sql`(${column} @> ${JSON.stringify({ [key]: value })}::jsonb)`;
    case 'notEmpty':
      return sql`(jsonb_typeof(${column} -> ${key}::text) = 'boolean')`;
    default:
      throw new Error(`operator ${op} is not compiled for booleans`);
  }
}

/** Multiselect: containment of a JSON array, so `{"k": ["a"]}` also uses the GIN index on fields. */
function arrayPredicate({ json }: Operand, { op, value }: FieldCondition): SQL {
  const { column, key } = json!;
  const contains = (values: FilterScalar[]) => sql`(${column} @> ${JSON.stringify({ [key]: values })}::jsonb)`;
  switch (op) {
    case 'in':
      return anyOf(asList(value).map((v) => contains([v])));
    case 'contains':
      return contains(asList(value));
    case 'notEmpty':
      return sql`(jsonb_typeof(${column} -> ${key}::text) = 'array' and ${column} -> ${key}::text <> '[]'::jsonb)`;
    default:
      throw new Error(`operator ${op} is not compiled for multiselect`);
  }
}

/** A value as bounds in the operand's domain: a point, or a half-open range of local days. */
type Bound = { point: SQL } | { from: SQL; to: SQL };

function orderedPredicate(operand: Operand, { op, value }: FieldCondition, c: Compiler): SQL {
  const { expr } = operand;
  switch (op) {
    case 'notEmpty':
      return operand.canonicalText ? sql`(${expr} <> '')` : sql`(${expr} is not null)`;
    case 'between': {
      const [from, to] = asList(value);
      return sql`(${compare(expr, 'gte', boundOf(operand, from!, c))} and ${compare(expr, 'lte', boundOf(operand, to!, c))})`;
    }
    case 'in':
      return anyOf(asList(value).map((v) => scalarPredicate(operand, 'eq', v, c)));
    case 'eq':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return scalarPredicate(operand, op, value as FilterScalar, c);
    default:
      throw new Error(`operator ${op} is not compiled for ${operand.kind}`);
  }
}

type Comparison = 'eq' | 'gt' | 'gte' | 'lt' | 'lte';

function scalarPredicate(operand: Operand, op: Comparison, value: FilterScalar, c: Compiler): SQL {
  if (typeof value === 'object' && value.type === 'anniversary') {
    const monthDay = resolveDate(value, c.clock);
    return anniversary(operand, monthDay.type === 'anniversary' ? monthDay.monthDay : '', c);
  }
  return compare(operand.expr, op, boundOf(operand, value, c));
}

function compare(expr: SQL, op: Comparison, bound: Bound): SQL {
  if ('point' in bound) {
    const sign = { eq: sql`=`, gt: sql`>`, gte: sql`>=`, lt: sql`<`, lte: sql`<=` }[op];
    return sql`(${expr} ${sign} ${bound.point})`;
  }
  switch (op) {
    case 'eq':
      return sql`(${expr} >= ${bound.from} and ${expr} < ${bound.to})`;
    case 'gt':
      return sql`(${expr} >= ${bound.to})`;
    case 'gte':
      return sql`(${expr} >= ${bound.from})`;
    case 'lt':
      return sql`(${expr} < ${bound.from})`;
    case 'lte':
      return sql`(${expr} < ${bound.to})`;
  }
}

function boundOf(operand: Operand, value: FilterScalar, c: Compiler): Bound {
  if (operand.kind === 'numeric') return { point: sql`${value as number}::numeric` };
  if (operand.kind === 'time') return { point: sql`${value as string}::text` };
  const resolved = resolveDate(value as DateExpr, c.clock);
  if (resolved.type === 'anniversary') throw new Error('anniversary is compiled by anniversary()');
  const tz = c.clock.timeZone;
  if (operand.kind === 'date') {
    // A date field holds a local day: an instant stands for the day it falls on.
    const from = resolved.type === 'instant' ? localDay(resolved.at, tz) : resolved.from;
    const to = resolved.type === 'instant' ? addDays(from, 1) : resolved.to;
    return { from: sql`${from}::text`, to: sql`${to}::text` };
  }
  const instant = (at: Date) =>
    operand.canonicalText ? sql`${at.toISOString()}::text` : sql`${at.toISOString()}::timestamptz`;
  if (resolved.type === 'instant') return { point: instant(resolved.at) };
  return { from: instant(startOfDay(resolved.from, tz)), to: instant(startOfDay(resolved.to, tz)) };
}

const ISO_INSTANT = '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?Z$';

/** Month and day equal to today's in the organization's time zone, any year. */
function anniversary(operand: Operand, monthDay: string, c: Compiler): SQL {
  const { expr } = operand;
  if (operand.kind === 'date') return sql`(substr(${expr}, 6, 5) = ${monthDay}::text)`;
  // Only a well-formed stored instant is cast, so a stray value cannot fail the query.
  const instant = operand.canonicalText
    ? sql`(case when ${expr} ~ ${ISO_INSTANT}::text then (${expr})::timestamptz end)`
    : expr;
  return sql`(to_char(${instant} at time zone ${c.clock.timeZone}::text, 'MM-DD') = ${monthDay}::text)`;
}

// ---- tags --------------------------------------------------------------------------------------

function compileTags(op: TagOp, values: string[]): SQL {
  const tags = sql`array[${list(values.map((v) => sql`${v}::text`))}]::text[]`;
  switch (op) {
    case 'includesAny':
      return sql`(${contacts.tags} && ${tags})`;
    case 'includesAll':
      return sql`(${contacts.tags} @> ${tags})`;
    case 'excludesAll':
      return sql`(not (${contacts.tags} && ${tags}))`;
    case 'empty':
      return sql`(cardinality(${contacts.tags}) = 0)`;
    default:
      return sql`(cardinality(${contacts.tags}) > 0)`;
  }
}

// ---- behaviour ---------------------------------------------------------------------------------

/** The activity rows a behaviour condition counts, for one contact or for all. */
function activityFilters(b: BehaviorCondition, c: Compiler): SQL {
  const parts: SQL[] = [sql`${activities.organizationId} = ${c.org}`, sql`${activities.type} = ${b.activity}::text`];
  if (b.subject !== undefined) parts.push(sql`${activities.subject} = ${b.subject}::text`);
  if (b.subjectLike !== undefined) parts.push(sql`${activities.subject} ilike ${b.subjectLike}::text`);
  if (b.properties) parts.push(sql`${activities.properties} @> ${JSON.stringify(b.properties)}::jsonb`);
  const at = (d: Date) => sql`${d.toISOString()}::timestamptz`;
  if (b.within) parts.push(sql`${activities.occurredAt} >= ${at(spanStart(b.within, c.clock))}`);
  const { timeZone } = c.clock;
  if (b.since) {
    const since = resolveDate(b.since, c.clock);
    if (since.type === 'days') parts.push(sql`${activities.occurredAt} >= ${at(startOfDay(since.from, timeZone))}`);
    else if (since.type === 'instant') parts.push(sql`${activities.occurredAt} >= ${at(since.at)}`);
  }
  if (b.until) {
    const until = resolveDate(b.until, c.clock);
    if (until.type === 'days') parts.push(sql`${activities.occurredAt} < ${at(startOfDay(until.to, timeZone))}`);
    else if (until.type === 'instant') parts.push(sql`${activities.occurredAt} <= ${at(until.at)}`);
  }
  return sql.join(parts, sql` and `);
}

const COUNT_SIGN: Record<CountOp, SQL> = { gte: sql`>=`, gt: sql`>`, eq: sql`=`, lt: sql`<`, lte: sql`<=` };

function compileBehavior(b: BehaviorCondition, c: Compiler): SQL {
  const where = activityFilters(b, c);
  const n = sql`${b.count.value}::bigint`;
  const countMatches = (count: SQL) => sql`(${count} ${COUNT_SIGN[b.count.op]} ${n})`;
  // Contacts without any matching activity have no group below, so a count that zero satisfies
  // ("fewer than 2") is the complement of the contacts whose count fails it.
  const zeroMatches = countHolds(b.count, 0);
  if (c.mode === 'rebuild') {
    const having = zeroMatches ? sql`not ${countMatches(sql`count(*)`)}` : countMatches(sql`count(*)`);
    const grouped = sql`select ${activities.contactId} as contact_id from ${activities} where ${where}
      group by ${activities.contactId} having ${having}`;
    // NOT EXISTS rather than NOT IN: the planner can run it as an anti join against the aggregate.
    return zeroMatches
      ? sql`(not exists (select 1 from (${grouped}) as grouped where grouped.contact_id = ${contacts.id}))`
      : sql`(${contacts.id} in (${grouped}))`;
  }
  const own = sql`${where} and ${activities.contactId} = ${contacts.id}`;
  const any = sql`exists (select 1 from ${activities} where ${own})`;
  if (isAtLeastOne(b.count)) return sql`(${any})`;
  if (zeroMatches && !countHolds(b.count, 1)) return sql`(not ${any})`;
  // Reading one more row than the threshold is enough to decide any comparison.
  const limit = sql`${b.count.value + 1}::bigint`;
  return countMatches(sql`(select count(*) from (select 1 from ${activities} where ${own} limit ${limit}) as counted)`);
}

const isAtLeastOne = (count: BehaviorCondition['count']) =>
  (count.op === 'gte' && count.value === 1) || (count.op === 'gt' && count.value === 0);

// ---- queries -----------------------------------------------------------------------------------

export interface MatchOptions {
  /** Only these contacts (incremental re-evaluation). */
  contactIds?: readonly string[];
  limit?: number;
}

/** `select id from crm.contacts` for one organization's matching contacts, ordered by id. */
export function matchingContactsQuery(node: FilterNode, options: CompileOptions, match: MatchOptions = {}): SQL {
  const only = match.contactIds
    ? match.contactIds.length
      ? sql` and ${contacts.id} in (${list(match.contactIds.map((id) => sql`${id}::uuid`))})`
      : sql` and false`
    : sql``;
  const limit = match.limit !== undefined ? sql` limit ${match.limit}::bigint` : sql``;
  return sql`select ${contacts.id} as id from ${contacts}
    where ${contacts.organizationId} = ${options.organizationId}::uuid${only} and ${compileFilter(node, options)}
    order by ${contacts.id}${limit}`;
}

export async function selectMatching(
  handle: DatabaseHandle,
  node: FilterNode,
  options: CompileOptions,
  match: MatchOptions = {},
): Promise<string[]> {
  const rows = await handle.rows<{ id: string }>(matchingContactsQuery(node, options, match));
  return rows.map((r) => r.id);
}

export async function countMatching(
  handle: DatabaseHandle,
  node: FilterNode,
  options: CompileOptions,
): Promise<number> {
  const [row] = await handle.rows<{ count: number }>(
    sql`select count(*)::int as count from ${contacts}
      where ${contacts.organizationId} = ${options.organizationId}::uuid and ${compileFilter(node, options)}`,
  );
  return Number(row?.count ?? 0);
}
