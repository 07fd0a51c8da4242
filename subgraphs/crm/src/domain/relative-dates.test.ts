import { describe, expect, it } from 'vitest';
import { addMonths, parseDateValue, parseSpan, resolveDate, spanStart, startOfDay } from './relative-dates.ts';

describe('relative dates', () => {
  // A Sunday, 22:30 in UTC, already Monday 1 April 00:30 in Paris (which moved to summer time that night).
  const now = new Date('2024-03-31T22:30:00Z');
  const resolve = (value: string, timeZone = 'UTC') => resolveDate(parseDateValue(value)!, { now, timeZone });
  const days = (from: string, to: string) => ({ type: 'days', from, to });

  it('resolves day offsets and named days in UTC', () => {
    expect(resolve('today')).toEqual(days('2024-03-31', '2024-04-01'));
    expect(resolve('yesterday')).toEqual(days('2024-03-30', '2024-03-31'));
    expect(resolve('tomorrow')).toEqual(days('2024-04-01', '2024-04-02'));
    expect(resolve('-7 days')).toEqual(days('2024-03-24', '2024-03-25'));
    expect(resolve('+2 weeks')).toEqual(days('2024-04-14', '2024-04-15'));
    expect(resolve('-1 year')).toEqual(days('2023-03-31', '2023-04-01'));
    expect(resolve('2024-01-05')).toEqual(days('2024-01-05', '2024-01-06'));
  });

  it('clamps month arithmetic to the end of shorter months', () => {
    expect(resolve('-1 month')).toEqual(days('2024-02-29', '2024-03-01'));
    expect(resolve('+2 months')).toEqual(days('2024-05-31', '2024-06-01'));
    expect(resolve('+1 month')).toEqual(days('2024-04-30', '2024-05-01'));
    expect(addMonths('2024-02-29', 12)).toBe('2025-02-28');
    expect(addMonths('2023-01-31', 1)).toBe('2023-02-28');
    expect(addMonths('2024-01-31', -2)).toBe('2023-11-30');
  });

  it('resolves this, last and next week, month and year (weeks start on Monday)', () => {
    expect(resolve('this week')).toEqual(days('2024-03-25', '2024-04-01'));
    expect(resolve('last week')).toEqual(days('2024-03-18', '2024-03-25'));
    expect(resolve('next week')).toEqual(days('2024-04-01', '2024-04-08'));
    expect(resolve('this month')).toEqual(days('2024-03-01', '2024-04-01'));
    expect(resolve('last month')).toEqual(days('2024-02-01', '2024-03-01'));
    expect(resolve('next month')).toEqual(days('2024-04-01', '2024-05-01'));
    expect(resolve('This Year')).toEqual(days('2024-01-01', '2025-01-01'));
    expect(resolve('last year')).toEqual(days('2023-01-01', '2024-01-01'));
    expect(
      resolveDate(parseDateValue('last month')!, { now: new Date('2024-01-15T00:00:00Z'), timeZone: 'UTC' }),
    ).toEqual(days('2023-12-01', '2024-01-01'));
  });

  it('reads the calendar in the organization time zone', () => {
    expect(resolve('today', 'Europe/Paris')).toEqual(days('2024-04-01', '2024-04-02'));
    expect(resolve('this month', 'Europe/Paris')).toEqual(days('2024-04-01', '2024-05-01'));
    expect(resolve('last month', 'Europe/Paris')).toEqual(days('2024-03-01', '2024-04-01'));
    expect(resolve('this week', 'Europe/Paris')).toEqual(days('2024-04-01', '2024-04-08'));
    expect(resolve('today', 'America/New_York')).toEqual(days('2024-03-31', '2024-04-01'));
    // Local midnight is a different instant on either side of the change to summer time.
    expect(startOfDay('2024-04-01', 'Europe/Paris').toISOString()).toBe('2024-03-31T22:00:00.000Z');
    expect(startOfDay('2024-03-31', 'Europe/Paris').toISOString()).toBe('2024-03-30T23:00:00.000Z');
    expect(startOfDay('2024-03-31', 'UTC').toISOString()).toBe('2024-03-31T00:00:00.000Z');
  });

  it('resolves anniversary to the local month and day', () => {
    expect(resolve('anniversary')).toEqual({ type: 'anniversary', monthDay: '03-31' });
    expect(resolve('anniversary', 'Europe/Paris')).toEqual({ type: 'anniversary', monthDay: '04-01' });
  });

  it('treats now, hours, minutes and date-times as instants', () => {
    expect(resolve('now')).toEqual({ type: 'instant', at: now });
    expect(resolve('-3 hours')).toEqual({ type: 'instant', at: new Date('2024-03-31T19:30:00Z') });
    expect(resolve('+90 minutes')).toEqual({ type: 'instant', at: new Date('2024-04-01T00:00:00Z') });
    expect(resolve('2024-03-01T10:00:00+02:00')).toEqual({ type: 'instant', at: new Date('2024-03-01T08:00:00Z') });
  });

  it('refuses what is not a date', () => {
    for (const bad of ['2024-02-30', '2024-13-01', '7 days', 'last decade', 'soon', '2024-03-01T10:00', '']) {
      expect(parseDateValue(bad), bad).toBeUndefined();
    }
  });

  it('starts a rolling window at the same local time of day', () => {
    expect(spanStart(parseSpan('30 days')!, { now, timeZone: 'UTC' }).toISOString()).toBe('2024-03-01T22:30:00.000Z');
    // 00:30 on 1 April in Paris (summer time) back 30 days is 00:30 on 2 March (winter time).
    expect(spanStart(parseSpan('-30 days')!, { now, timeZone: 'Europe/Paris' }).toISOString()).toBe(
      '2024-03-01T23:30:00.000Z',
    );
    expect(spanStart(parseSpan('12 hours')!, { now, timeZone: 'Europe/Paris' }).toISOString()).toBe(
      '2024-03-31T10:30:00.000Z',
    );
    expect(spanStart(parseSpan('1 month')!, { now, timeZone: 'UTC' }).toISOString()).toBe('2024-02-29T22:30:00.000Z');
    expect(parseSpan('+3 days')).toBeUndefined();
  });
});
