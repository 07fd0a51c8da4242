import { newId } from '@mauntic/kernel';
import { describe, expect, it } from 'vitest';
import type { FieldDefinition } from './field-types.ts';
import {
  detectCycle,
  type FilterNode,
  isTimeDependent,
  referencedFields,
  referencedSegments,
} from './segment-filter.ts';
import { type ValidationContext, validateFilter } from './segment-filter-validation.ts';

const field = (
  key: string,
  type: FieldDefinition['type'],
  options = {},
  entity: FieldDefinition['entity'] = 'contact',
) => ({ key, label: key, entity, type, options, required: false }) satisfies FieldDefinition;

const FIELDS: FieldDefinition[] = [
  field('age', 'number'),
  field('vip', 'boolean'),
  field('birthday', 'date'),
  field('plan', 'select', { choices: ['free', 'pro'] }),
  field('interests', 'multiselect', { choices: ['music', 'tech'] }),
  field('website', 'url'),
  field('size', 'number', {}, 'company'),
];
const SEGMENT = newId();
const ctx: ValidationContext = { fields: FIELDS, segmentExists: (id) => id === SEGMENT };

const valid = (tree: unknown, context = ctx): FilterNode => {
  const result = validateFilter(tree, context);
  if (!result.ok) throw new Error(`expected a valid filter: ${result.error.message}`);
  return result.value;
};
const issues = (tree: unknown, context = ctx) => {
  const result = validateFilter(tree, context);
  if (result.ok) throw new Error('expected validation to fail');
  expect(result.error.code).toBe('VALIDATION_FAILED');
  return result.error.issues;
};

describe('validateFilter', () => {
  it('accepts a nested tree and normalizes its values to their stored forms', () => {
    const node = valid({
      and: [
        { field: 'phone', op: 'eq', value: '+1 415 555 0100' },
        { field: 'fields.website', op: 'eq', value: 'https://example.com' },
        { not: { tags: { op: 'includesAny', value: [' VIP ', 'vip'] } } },
        { behavior: { type: 'email.opened' } },
        { segment: { id: SEGMENT.toUpperCase() } },
        { dnc: { channel: 'sms' } },
      ],
    });
    expect(node).toMatchObject({
      type: 'and',
      nodes: [
        { type: 'field', op: 'eq', value: '+14155550100', target: { source: 'column', column: 'phone' } },
        { type: 'field', value: 'https://example.com/', target: { source: 'fields', key: 'website', kind: 'text' } },
        { type: 'not', node: { type: 'tags', op: 'includesAny', values: ['vip'] } },
        { type: 'behavior', activity: 'email.opened', count: { op: 'gte', value: 1 } },
        { type: 'segment', id: SEGMENT, member: true },
        { type: 'dnc', channel: 'sms', is: true },
      ],
    });
  });

  it('points at an unknown field, and refuses a custom field key that could never exist', () => {
    expect(
      issues({
        and: [
          { field: 'points', op: 'gt', value: 1 },
          { field: 'nope', op: 'eq', value: 'x' },
        ],
      }),
    ).toEqual([{ path: ['filter', 'and', '1', 'field'], message: 'unknown field "nope"' }]);
    expect(issues({ field: "fields.a'b", op: 'eq', value: 'x' })[0]?.path).toEqual(['filter', 'field']);
    expect(issues({ field: 'fields.size', op: 'eq', value: 1 })[0]?.message).toBe('unknown field "fields.size"');
    expect(issues({ field: 'company.fields.age', op: 'eq', value: 1 })[0]?.path).toEqual(['filter', 'field']);
    expect(valid({ field: 'company.fields.size', op: 'gt', value: 1 })).toMatchObject({
      target: { entity: 'company', key: 'size' },
    });
  });

  it('refuses an operator the field type does not allow, and an unknown operator', () => {
    const [notAllowed] = issues({ or: [{ field: 'points', op: 'like', value: '1%' }] });
    expect(notAllowed?.path).toEqual(['filter', 'or', '0', 'op']);
    expect(notAllowed?.message).toMatch(/"like" is not allowed for numeric fields/);
    expect(issues({ field: 'fields.vip', op: 'gt', value: true })[0]?.path).toEqual(['filter', 'op']);
    expect(issues({ field: 'fields.interests', op: 'eq', value: 'music' })[0]?.path).toEqual(['filter', 'op']);
    expect(issues({ field: 'email', op: 'gt', value: 'a' })[0]?.path).toEqual(['filter', 'op']);
    expect(issues({ field: 'email', op: 'startswith', value: 'a' })[0]?.message).toMatch(/unknown operator/);
  });

  it('checks values with the field type, pointing into lists', () => {
    expect(issues({ field: 'fields.age', op: 'gt', value: 'many' })).toEqual([
      { path: ['filter', 'value'], message: 'must be a number' },
    ]);
    expect(issues({ field: 'fields.plan', op: 'in', value: ['free', 'gold'] })).toEqual([
      { path: ['filter', 'value', '1'], message: 'must be one of: free, pro' },
    ]);
    expect(issues({ field: 'fields.interests', op: 'contains', value: ['golf'] })[0]?.path).toEqual([
      'filter',
      'value',
      '0',
    ]);
    expect(issues({ field: 'fields.website', op: 'eq', value: 'ftp://x' })[0]?.message).toBe('must be an http(s) URL');
    expect(issues({ field: 'phone', op: 'eq', value: 'call me' })[0]?.message).toBe('must be a phone number');
    expect(issues({ field: 'owner', op: 'eq', value: 'someone' })[0]?.message).toBe('must be an id (UUID)');
    expect(issues({ field: 'fields.vip', op: 'eq', value: 'yes' })[0]?.message).toBe('must be true or false');
    expect(issues({ field: 'createdAt', op: 'gt', value: '2024-02-30' })[0]?.message).toMatch(/must be a date/);
    expect(issues({ field: 'createdAt', op: 'gt', value: '2024-02-01T10:00' })[0]?.message).toMatch(/with its offset/);
    expect(issues({ field: 'createdAt', op: 'gt', value: 'anniversary' })[0]?.message).toBe(
      'anniversary can only be used with eq',
    );
    expect(issues({ field: 'points', op: 'between', value: [1] })[0]?.message).toBe('must be a pair [from, to]');
    expect(issues({ field: 'points', op: 'in', value: [] })[0]?.message).toBe('must be a non-empty list');
    expect(issues({ field: 'email', op: 'empty', value: 'x' })[0]?.message).toBe('takes no value with "empty"');
    expect(issues({ field: 'email', op: 'regexp', value: '(unclosed' })[0]?.message).toBe(
      'must be a valid regular expression',
    );
    expect(issues({ field: 'email', op: 'contains', value: '' })[0]?.message).toBe('must be a non-empty string');
    expect(issues({ field: 'email', op: 'notRegexp', value: '(?<user>.+)@' })[0]?.message).toMatch(
      /PostgreSQL does not support/,
    );
    expect(issues({ field: 'points', op: 'eq', value: '0x10' })[0]?.message).toBe('must be a number');
  });

  it('reports malformed nodes where they are', () => {
    expect(issues([])[0]).toEqual({
      path: ['filter'],
      message: 'must be an object: {and}, {or}, {not} or a condition',
    });
    expect(issues({ where: {} })[0]?.path).toEqual(['filter']);
    expect(issues({ and: [{ field: 'email', op: 'empty' }], or: [] })[0]?.path).toEqual(['filter', 'or']);
    expect(issues({ field: 'email', op: 'eq', vaule: 'x' })[0]?.path).toEqual(['filter', 'vaule']);
    expect(issues({ and: [] })[0]).toEqual({ path: ['filter', 'and'], message: 'must be a non-empty list of filters' });
    expect(issues({ not: { not: 'x' } })[0]?.path).toEqual(['filter', 'not', 'not']);
    expect(issues({ tags: { op: 'includesAny', value: ['ok', 3] } })[0]?.path).toEqual([
      'filter',
      'tags',
      'value',
      '1',
    ]);
    expect(issues({ tags: { op: 'has', value: ['ok'] } })[0]?.path).toEqual(['filter', 'tags', 'op']);
    expect(issues({ dnc: { channel: 'fax' } })[0]?.path).toEqual(['filter', 'dnc', 'channel']);
    expect(issues({ segment: { id: newId() } })[0]).toEqual({
      path: ['filter', 'segment', 'id'],
      message: 'unknown segment',
    });
    expect(issues({ segment: { id: "x' or 1=1" } })[0]?.message).toBe('must be a segment id (UUID)');
  });

  it('checks every part of a behaviour condition', () => {
    const found = issues({
      behavior: {
        type: 'Email Opened',
        count: { op: 'gte', value: -1 },
        within: 'a while',
        properties: { plan: { nested: true } },
        since: 'anniversary',
      },
    });
    expect(found.map((i) => i.path.join('.'))).toEqual([
      'filter.behavior.type',
      'filter.behavior.properties.plan',
      'filter.behavior.count.value',
      'filter.behavior.within',
      'filter.behavior.since',
    ]);
    expect(
      valid({
        behavior: {
          type: 'event',
          subject: 'purchase',
          properties: { plan: 'pro' },
          count: { op: 'lt', value: 2 },
          within: '-30 days',
        },
      }),
    ).toEqual({
      type: 'behavior',
      activity: 'event',
      subject: 'purchase',
      properties: { plan: 'pro' },
      count: { op: 'lt', value: 2 },
      within: { amount: 30, unit: 'day' },
    });
  });

  it('refuses trees nested too deeply or with too many conditions', () => {
    let deep: unknown = { field: 'email', op: 'empty' };
    for (let i = 0; i < 4; i++) deep = { not: deep };
    expect(issues(deep, { ...ctx, maxDepth: 3 })).toEqual([
      { path: ['filter', 'not', 'not', 'not'], message: 'is nested too deeply (at most 3 levels)' },
    ]);
    expect(valid(deep, { ...ctx, maxDepth: 4 }).type).toBe('not');
    const many = { or: Array.from({ length: 5 }, () => ({ field: 'email', op: 'empty' })) };
    expect(issues(many, { ...ctx, maxConditions: 3 })).toEqual([
      { path: ['filter', 'or', '3'], message: 'has too many conditions (at most 3)' },
    ]);
  });

  it('reports every problem at once', () => {
    const found = issues({
      and: [
        { field: 'nope', op: 'eq', value: 1 },
        { field: 'points', op: 'eq', value: 'x' },
        { dnc: { channel: 'fax' } },
      ],
    });
    expect(found.map((i) => i.path.join('.'))).toEqual([
      'filter.and.0.field',
      'filter.and.1.value',
      'filter.and.2.dnc.channel',
    ]);
  });
});

describe('what a filter depends on', () => {
  const other = newId();
  const tree = valid(
    {
      or: [
        { field: 'email', op: 'empty' },
        { field: 'owner', op: 'empty' },
        { field: 'fields.age', op: 'gt', value: 3 },
        { field: 'company.fields.size', op: 'gt', value: 3 },
        { not: { segment: { id: SEGMENT } } },
        { segment: { id: other } },
        { segment: { id: SEGMENT, member: false } },
        { tags: { op: 'empty' } },
        { dnc: { channel: 'email' } },
        { behavior: { type: 'form.submitted' } },
      ],
    },
    { ...ctx, segmentExists: () => true },
  );

  it('lists the fields and relations a tree reads', () => {
    expect(referencedFields(tree)).toEqual(
      new Set(['email', 'owner', 'fields.age', 'company', 'segments', 'tags', 'dnc', 'activities']),
    );
    expect(referencedFields(valid({ field: 'company.name', op: 'empty' }))).toEqual(new Set(['company']));
  });

  it('lists each referenced segment once', () => {
    expect(referencedSegments(tree)).toEqual([SEGMENT, other]);
    expect(referencedSegments(valid({ field: 'email', op: 'empty' }))).toEqual([]);
  });

  it('knows which trees change with time alone', () => {
    expect(isTimeDependent(tree)).toBe(false);
    expect(isTimeDependent(valid({ field: 'createdAt', op: 'gt', value: '2024-01-01' }))).toBe(false);
    expect(isTimeDependent(valid({ not: { field: 'createdAt', op: 'in', value: ['2024-01-01', 'today'] } }))).toBe(
      true,
    );
    expect(isTimeDependent(valid({ behavior: { type: 'email.opened', within: '7 days' } }))).toBe(true);
    expect(isTimeDependent(valid({ field: 'fields.birthday', op: 'eq', value: 'anniversary' }))).toBe(true);
  });
});

describe('detectCycle', () => {
  const [a, b, c, d] = [newId(), newId(), newId(), newId()];
  const member = (...ids: string[]): FilterNode => ({
    type: 'or',
    nodes: ids.map((id) => ({ type: 'segment', id, member: true })),
  });
  const graph = (edges: Record<string, FilterNode | undefined>) => (id: string) => edges[id];

  it('refuses a segment that reaches itself through others', () => {
    const result = detectCycle(a, graph({ [a]: member(b), [b]: member(d, c), [c]: member(a), [d]: undefined }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.issues).toEqual([
      { path: ['filter'], message: `segments refer to each other in a cycle: ${a} → ${b} → ${c} → ${a}` },
    ]);
  });

  it('refuses a segment that names itself', () => {
    expect(detectCycle(a, graph({ [a]: { type: 'not', node: member(a) } })).ok).toBe(false);
  });

  it('accepts shared dependencies, and stops on a cycle elsewhere', () => {
    expect(detectCycle(a, graph({ [a]: member(b, c), [b]: member(d), [c]: member(d), [d]: undefined })).ok).toBe(true);
    expect(detectCycle(a, graph({ [a]: member(b), [b]: member(c), [c]: member(b) })).ok).toBe(true);
  });
});
