import { describe, expect, it } from 'vitest';
import { evaluateFilter, type FilterSubject } from './contact-filter.ts';

const clock = { now: new Date('2026-03-15T12:00:00Z'), timeZone: 'UTC' };
const contact = (values: Record<string, unknown>, extra: Partial<FilterSubject> = {}): FilterSubject => ({
  value: (field) => values[field],
  ...extra,
});
const holds = (filter: unknown, subject: FilterSubject) => evaluateFilter(filter, subject, clock).matches;

describe("CRM's filter grammar in memory", () => {
  it('text ignores case; negative operators are exact complements, so a missing value matches them', () => {
    const c = contact({ email: 'Ann@Example.com' });
    expect(holds({ field: 'email', op: 'endsWith', value: '@example.COM' }, c)).toBe(true);
    expect(holds({ field: 'email', op: 'like', value: 'ann@%' }, c)).toBe(true);
    expect(holds({ field: 'firstName', op: 'neq', value: 'x' }, c)).toBe(true);
    expect(holds({ field: 'firstName', op: 'empty' }, c)).toBe(true);
    expect(holds({ field: 'firstName', op: 'notIn', value: ['a'] }, c)).toBe(true);
    expect(holds({ not: { field: 'firstName', op: 'eq', value: 'x' } }, c)).toBe(true);
  });

  it('numbers, between inclusive, and multiselect in (any) and contains (all)', () => {
    const c = contact({ points: 50, 'fields.colors': ['red', 'blue'] });
    expect(holds({ field: 'points', op: 'between', value: [50, 60] }, c)).toBe(true);
    expect(holds({ field: 'points', op: 'gt', value: 50 }, c)).toBe(false);
    expect(holds({ field: 'fields.colors', op: 'in', value: ['green', 'blue'] }, c)).toBe(true);
    expect(holds({ field: 'fields.colors', op: 'contains', value: ['red', 'green'] }, c)).toBe(false);
  });

  it('day-sized dates are whole local days; relative dates resolve against the clock', () => {
    const c = contact({ createdAt: '2026-03-08T23:59:00Z', 'fields.birthday': '1990-03-15' });
    expect(holds({ field: 'createdAt', op: 'eq', value: '2026-03-08' }, c)).toBe(true);
    expect(holds({ field: 'createdAt', op: 'gte', value: '-7 days' }, c)).toBe(true);
    expect(holds({ field: 'createdAt', op: 'gt', value: '-7 days' }, c)).toBe(false);
    expect(holds({ field: 'createdAt', op: 'lt', value: 'now' }, c)).toBe(true);
    expect(holds({ field: 'fields.birthday', op: 'eq', value: 'anniversary' }, c)).toBe(true);
  });

  it('tags, DNC and segments; what the copy lacks is reported and does not match', () => {
    const c = contact({}, { tags: ['VIP'], dnc: { sms: null }, segments: new Set(['s1']) });
    expect(holds({ tags: { op: 'includesAll', value: ['vip'] } }, c)).toBe(true);
    expect(holds({ dnc: { channel: 'sms' } }, c)).toBe(true);
    expect(holds({ dnc: { channel: 'email', is: false } }, c)).toBe(true);
    expect(holds({ segment: { id: 's2', member: false } }, c)).toBe(true);
    expect(
      evaluateFilter(
        { or: [{ field: 'company.name', op: 'eq', value: 'x' }, { behavior: { type: 'page.visited' } }] },
        c,
        clock,
      ),
    ).toEqual({
      matches: false,
      unsupported: ['company.name', 'behavior'],
    });
  });
});
