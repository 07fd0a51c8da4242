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

  it("company conditions hold when any company matches, and their negatives are that's complement", () => {
    const companies = [
      { name: 'Acme', domain: 'acme.com', fields: { size: 50 } },
      { name: 'Globex', domain: null, fields: {} },
    ];
    const c = contact({}, { companies });
    expect(holds({ field: 'company.name', op: 'eq', value: 'globex' }, c)).toBe(true);
    expect(holds({ field: 'company.name', op: 'neq', value: 'globex' }, c)).toBe(false);
    expect(holds({ field: 'company.domain', op: 'empty' }, c)).toBe(false);
    expect(holds({ field: 'company.fields.size', op: 'gte', value: 50 }, c)).toBe(true);
    expect(holds({ field: 'company.name', op: 'neq', value: 'x' }, contact({}, { companies: [] }))).toBe(true);
  });

  it('periods are calendar weeks (from Monday), months and years of the clock, months clamped', () => {
    const c = contact({ monday: '2026-03-09', sunday: '2026-03-15', feb: '2026-02-15', jan: '2026-01-01' });
    expect(holds({ field: 'monday', op: 'eq', value: 'this week' }, c)).toBe(true);
    expect(holds({ field: 'sunday', op: 'eq', value: 'this week' }, c)).toBe(true);
    expect(holds({ field: 'feb', op: 'eq', value: 'last month' }, c)).toBe(true);
    expect(holds({ field: 'jan', op: 'eq', value: 'this year' }, c)).toBe(true);
    expect(holds({ field: 'jan', op: 'lt', value: 'this month' }, c)).toBe(true);
    const endOfMarch = { now: new Date('2026-03-31T12:00:00Z'), timeZone: 'UTC' };
    expect(
      evaluateFilter({ field: 'feb', op: 'lt', value: '-1 month' }, contact({ feb: '2026-02-27' }), endOfMarch).matches,
    ).toBe(true);
    expect(
      evaluateFilter({ field: 'feb', op: 'eq', value: '-1 month' }, contact({ feb: '2026-02-28' }), endOfMarch).matches,
    ).toBe(true);
  });

  it('behaviour counts the activity in its window; lastActiveAt is the last behaviour', () => {
    const at = (iso: string) => Date.parse(iso);
    const rows = [
      { type: 'page.visited', subject: 'https://x.com/Pricing', properties: {}, at: at('2026-03-14T10:00:00Z') },
      { type: 'page.visited', subject: 'https://x.com/blog', properties: {}, at: at('2026-02-01T10:00:00Z') },
      { type: 'event', subject: 'purchase', properties: { plan: 'pro' }, at: at('2026-03-10T10:00:00Z') },
    ];
    const activity = {
      covers: (type: string) => type !== 'points.changed',
      of: (type: string) => rows.filter((r) => r.type === type),
      lastActiveAt: new Date('2026-03-14T10:00:00Z'),
    };
    const c = contact({}, { activity });
    expect(holds({ behavior: { type: 'page.visited', subjectLike: '%/pricing', within: '7 days' } }, c)).toBe(true);
    expect(holds({ behavior: { type: 'page.visited', within: '7 days', count: { op: 'gte', value: 2 } } }, c)).toBe(
      false,
    );
    expect(holds({ behavior: { type: 'page.visited', count: { op: 'eq', value: 2 } } }, c)).toBe(true);
    expect(holds({ behavior: { type: 'event', subject: 'purchase', properties: { plan: 'free' } } }, c)).toBe(false);
    expect(holds({ behavior: { type: 'form.submitted', count: { op: 'lt', value: 1 } } }, c)).toBe(true);
    expect(holds({ field: 'lastActiveAt', op: 'gte', value: '-1 day' }, c)).toBe(true);
    expect(evaluateFilter({ behavior: { type: 'points.changed' } }, c, clock).unsupported).toEqual([
      'behavior points.changed',
    ]);
  });
});
