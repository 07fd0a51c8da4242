import { describe, expect, it } from 'vitest';
import { isOccurrence } from './rrule.ts';
import type { LocalTime } from './zoned-time.ts';

const at = (s: string, weekday: LocalTime['weekday']): LocalTime => {
  const [date, time] = s.split(' ');
  const [year, month, day] = date!.split('-').map(Number) as [number, number, number];
  const [hour, minute] = time!.split(':').map(Number) as [number, number];
  return { year, month, day, hour, minute, weekday };
};

describe('RRULE occurrences on a wall clock', () => {
  it('weekly on given days at an hour, minute 0 unless given', () => {
    const rule = 'FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9';
    expect(isOccurrence(rule, at('2026-03-02 09:00', 'mon'))).toBe(true);
    expect(isOccurrence(rule, at('2026-03-04 09:00', 'wed'))).toBe(true);
    expect(isOccurrence(rule, at('2026-03-03 09:00', 'tue'))).toBe(false);
    expect(isOccurrence(rule, at('2026-03-02 09:01', 'mon'))).toBe(false);
  });

  it('monthly on day 1 by default, yearly on a month, intervals and UNTIL', () => {
    expect(isOccurrence('FREQ=MONTHLY;BYHOUR=8', at('2026-04-01 08:00', 'wed'))).toBe(true);
    expect(isOccurrence('FREQ=MONTHLY;BYHOUR=8', at('2026-04-02 08:00', 'thu'))).toBe(false);
    expect(isOccurrence('FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24', at('2026-12-24 00:00', 'thu'))).toBe(true);
    expect(isOccurrence('FREQ=DAILY;INTERVAL=2', at('1970-01-03 00:00', 'sat'))).toBe(true);
    expect(isOccurrence('FREQ=DAILY;INTERVAL=2', at('1970-01-04 00:00', 'sun'))).toBe(false);
    expect(isOccurrence('FREQ=DAILY;UNTIL=20260301', at('2026-03-02 00:00', 'mon'))).toBe(false);
    expect(isOccurrence('FREQ=HOURLY;BYMINUTE=15,45', at('2026-03-02 13:45', 'mon'))).toBe(true);
  });
});
