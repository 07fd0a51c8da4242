// Checking a segment filter tree against the organization's fields and segments: every problem
// reported with its JSON path, and the tree returned typed, with values in their stored forms.
import { type FieldIssue, fail, isUuid, ok, type Result, ValidationError } from '@mauntic/kernel';
import { checkFieldValue, FIELD_KEY, type FieldDefinition, SQL_KIND } from './field-types.ts';
import { type DateExpr, parseDateValue, parseSpan } from './relative-dates.ts';
import {
  type BehaviorCondition,
  COUNT_OPS,
  type CountOp,
  DNC_CHANNELS,
  type DncChannel,
  type FieldCondition,
  type FieldTarget,
  type FilterNode,
  type FilterScalar,
  type FilterValue,
  OPERATORS,
  OPERATORS_BY_KIND,
  type Operator,
  STANDARD_FIELDS,
  TAG_OPS,
  type TagOp,
} from './segment-filter.ts';

/** What a filter needs to know of a custom field: which entity's, its key, its type and options. */
export type FilterField = Pick<FieldDefinition, 'key' | 'entity' | 'type' | 'options'>;

export interface ValidationContext {
  /** The organization's custom field definitions (contact and company). */
  fields: readonly FilterField[];
  segmentExists(id: string): boolean;
  /** Nesting of and/or/not allowed (default 10). */
  maxDepth?: number;
  /** Conditions allowed in one tree (default 200). */
  maxConditions?: number;
}

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
export function resolveField(name: string, fields: readonly FilterField[]): FieldTarget | undefined {
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

function definitionOf(fields: readonly FilterField[], entity: 'contact' | 'company', key: string) {
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
