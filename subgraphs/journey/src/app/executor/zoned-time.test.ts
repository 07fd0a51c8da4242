import { describe, expect, it } from 'vitest';
import { inWindow, nextTimeOfDay, windowOpensAt, zonedInstant } from './zoned-time.ts';

describe('wall-clock time in a zone', () => {
  it('finds the instant of a local time on either side of a change of offset', () => {
    expect(zonedInstant({ year: 2026, month: 3, day: 27 }, { hour: 9, minute: 0 }, 'Europe/Paris')).toEqual(
      new Date('2026-03-27T08:00:00Z'),
    );
    expect(zonedInstant({ year: 2026, month: 3, day: 30 }, { hour: 9, minute: 0 }, 'Europe/Paris')).toEqual(
      new Date('2026-03-30T07:00:00Z'),
    );
  });

  it('moves a skipped time on by the gap, and takes the first of a repeated one', () => {
    // 02:30 does not exist in Paris on 29 March 2026: it is 03:30 summer time.
    expect(zonedInstant({ year: 2026, month: 3, day: 29 }, { hour: 2, minute: 30 }, 'Europe/Paris')).toEqual(
      new Date('2026-03-29T01:30:00Z'),
    );
    // 02:30 happens twice on 25 October 2026: first in summer time (UTC+2).
    expect(zonedInstant({ year: 2026, month: 10, day: 25 }, { hour: 2, minute: 30 }, 'Europe/Paris')).toEqual(
      new Date('2026-10-25T00:30:00Z'),
    );
  });

  it('the next time a clock shows HH:MM, on given weekdays', () => {
    const friday = new Date('2026-03-27T16:30:00Z');
    expect(nextTimeOfDay(friday, 'Europe/Paris', '09:00')).toEqual(new Date('2026-03-28T08:00:00Z'));
    expect(nextTimeOfDay(friday, 'Europe/Paris', '09:00', ['mon'])).toEqual(new Date('2026-03-30T07:00:00Z'));
    expect(nextTimeOfDay(friday, 'Asia/Kolkata', '22:30')).toEqual(new Date('2026-03-27T17:00:00Z'));
  });

  it('sending windows, including one over midnight that belongs to the day it opens', () => {
    const night = { days: ['fri'] as const, from: '22:00', to: '06:00' };
    expect(inWindow(new Date('2026-03-27T23:00:00Z'), 'UTC', { ...night, days: ['fri'] })).toBe(true);
    expect(inWindow(new Date('2026-03-28T05:59:00Z'), 'UTC', { ...night, days: ['fri'] })).toBe(true);
    expect(inWindow(new Date('2026-03-28T06:00:00Z'), 'UTC', { ...night, days: ['fri'] })).toBe(false);
    expect(inWindow(new Date('2026-03-28T23:00:00Z'), 'UTC', { ...night, days: ['fri'] })).toBe(false);
    const office = { days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, from: '09:00', to: '17:00' };
    const at = new Date('2026-03-30T10:00:00Z');
    expect(windowOpensAt(at, 'Europe/Paris', { ...office, days: [...office.days] })).toBe(at);
  });
});
