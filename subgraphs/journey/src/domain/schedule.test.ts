import * as rruleModule from 'rrule';
import { describe, expect, it } from 'vitest';
import { MAX_COUNT, parseLocalDateTime, Recurrence, ruleProblem, wallClock } from './schedule.ts';

const { RRule } = (rruleModule as { default?: typeof rruleModule }).default ?? rruleModule;

const wall = (s: string) => new Date(`${s}Z`);
const iso = (dates: Date[]) => dates.map((d) => d.toISOString().slice(0, 16));

describe('RRULE values a schedule takes', () => {
  it.each([
    'FREQ=DAILY',
    'RRULE:FREQ=WEEKLY;BYDAY=MO,WE;BYHOUR=9;BYMINUTE=30',
    'FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=12',
    'FREQ=YEARLY;UNTIL=20301231T000000Z',
    'FREQ=MONTHLY;BYDAY=1MO,-1FR',
    'FREQ=YEARLY;BYDAY=20MO',
    'FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO;WKST=SU',
    'FREQ=YEARLY;INTERVAL=3;BYYEARDAY=1,100,-1',
    'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1',
    'FREQ=MINUTELY;INTERVAL=15;BYSECOND=0',
  ])('accepts %s', (rule) => {
    expect(ruleProblem(rule)).toBeNull();
  });

  it.each([
    ['every monday', /not an RRULE part/],
    ['BYDAY=MO', /FREQ is required/],
    ['FREQ=FORTNIGHTLY', /not a valid value/],
    ['FREQ=DAILY;FREQ=WEEKLY', /given twice/],
    ['FREQ=DAILY;COUNT=2;UNTIL=20300101', /cannot both/],
    ['FREQ=DAILY;CONSTRUCTOR=1', /not an RRULE part/],
    ['FREQ=DAILY;', /not an RRULE part/],
    ['DTSTART:20260302T090000\nRRULE:FREQ=DAILY', /not an RRULE part.*dtstart/],
    ['FREQ=SECONDLY', /at most once a minute/],
    ['FREQ=MINUTELY;BYSECOND=0,30', /at most once a minute/],
    ['FREQ=DAILY;BYHOUR=24', /out of range/],
    ['FREQ=MONTHLY;BYMONTHDAY=0', /out of range/],
    ['FREQ=YEARLY;BYYEARDAY=367', /out of range/],
    ['FREQ=DAILY;INTERVAL=0', /INTERVAL/],
    ['FREQ=DAILY;COUNT=0', /COUNT/],
    [`FREQ=DAILY;COUNT=${MAX_COUNT + 1}`, /COUNT/],
    ['FREQ=WEEKLY;BYDAY=1MO', /ordinals/],
    ['FREQ=YEARLY;BYWEEKNO=20;BYDAY=1MO', /ordinals/],
    ['FREQ=MONTHLY;BYDAY=54MO', /ordinal out of range/],
    ['FREQ=WEEKLY;BYMONTHDAY=1', /not for WEEKLY/],
    ['FREQ=MONTHLY;BYYEARDAY=1', /BYYEARDAY/],
    ['FREQ=MONTHLY;BYWEEKNO=1', /only for YEARLY/],
    ['FREQ=MONTHLY;BYSETPOS=1', /another BYxxx/],
  ])('refuses %s', (rule, message) => {
    expect(ruleProblem(rule)).toMatch(message);
  });
});

describe('a series restarted on its grid', () => {
  // Each rule asked about far from its start, by the library alone (expanding from the start) and
  // by a series whose cursor earlier questions have moved on: the answers must be the same.
  // (The minutely rule is asked about days near its start: expanding years takes seconds.)
  it.each([
    ['FREQ=MINUTELY;INTERVAL=7', '2026-02-25T00:03'],
    ['FREQ=HOURLY;INTERVAL=5;BYMINUTE=10,40', '2026-01-01T02:00'],
    ['FREQ=DAILY;INTERVAL=3', '2026-01-01T09:15'],
    ['FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU', '2026-01-06T09:00'],
    // Started on a Sunday: a grid of Monday weeks would restart it in the other fortnight.
    ['FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU', '2026-01-04T09:00'],
    ['FREQ=WEEKLY;INTERVAL=3', '2026-01-08T18:30'],
    ['FREQ=MONTHLY', '2026-01-31T08:00'],
    ['FREQ=MONTHLY;INTERVAL=5;BYDAY=-1FR', '2026-01-01T08:00'],
    ['FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', '2026-01-01T17:00'],
    ['FREQ=YEARLY', '2024-02-29T12:00'],
    ['FREQ=YEARLY;INTERVAL=2;BYWEEKNO=20;BYDAY=MO', '2026-01-01T09:00'],
    ['FREQ=DAILY;COUNT=400', '2026-01-01T09:00'],
    ['FREQ=HOURLY;INTERVAL=3;COUNT=2000', '2026-01-01T00:00'],
  ])('%s from %s', (rule, start) => {
    const moved = new Recurrence(rule, wall(start), 'UTC');
    const minutely = rule.includes('MINUTELY');
    const days = minutely
      ? ['2026-03-01', '2026-03-02', '2026-03-09']
      : ['2026-03-13', '2026-07-13', '2027-02-13', '2029-05-13'];
    for (const day of days) {
      const from = wall(`${day}T05:00`);
      const to = new Date(from.getTime() + (minutely ? 1 : 40) * 86_400_000);
      const library = new RRule({ ...RRule.parseString(rule), dtstart: wall(start) }, true);
      expect(iso(moved.between(from, to))).toEqual(iso(library.between(from, to, true)));
    }
  });

  it('a minutely series a year old answers a minute without expanding the year', () => {
    const series = new Recurrence('FREQ=MINUTELY', wall('2025-12-01T00:00'), 'UTC');
    const started = performance.now();
    const found = series.between(wall('2026-12-07T10:00'), wall('2026-12-07T10:02'));
    // Expanding from the start takes the library about ten seconds here.
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(iso(found)).toEqual(['2026-12-07T10:00', '2026-12-07T10:01', '2026-12-07T10:02']);
  });

  it('a COUNT series counts what the cursor skipped, and ends', () => {
    const series = new Recurrence('FREQ=DAILY;COUNT=10', wall('2026-01-01T09:00'), 'UTC');
    expect(iso(series.between(wall('2026-01-05T00:00'), wall('2026-01-06T00:00')))).toEqual(['2026-01-05T09:00']);
    expect(iso(series.between(wall('2026-01-10T00:00'), wall('2026-01-20T00:00')))).toEqual(['2026-01-10T09:00']);
    expect(series.between(wall('2026-01-11T00:00'), wall('2027-01-01T00:00'))).toEqual([]);
    expect(series.firstFrom(wall('2026-01-11T00:00'))).toBeNull();
  });

  it('finds the next occurrence of a rare rule, and none of a rule that never occurs', () => {
    // A 29 February that is a Monday: 2044, then 2072.
    const rare = new Recurrence('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO', wall('2026-01-01T09:00'), 'UTC');
    expect(rare.firstFrom(wall('2026-12-07T00:00'))?.toISOString()).toBe('2044-02-29T09:00:00.000Z');
    const never = new Recurrence('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', wall('2026-01-01T09:00'), 'UTC');
    expect(never.firstFrom(wall('2026-12-07T00:00'))).toBeNull();
    const ended = new Recurrence('FREQ=DAILY;UNTIL=20260301', wall('2026-01-01T09:00'), 'UTC');
    expect(ended.firstFrom(wall('2026-03-01T08:00'))?.toISOString()).toBe('2026-03-01T09:00:00.000Z');
    expect(ended.firstFrom(wall('2026-03-02T00:00'))).toBeNull();
  });

  it('an UNTIL in UTC is read on the zone clock, a local one as written', () => {
    const start = wall('2026-03-01T09:00');
    // 2026-03-03T07:59Z is 08:59 in Paris: the 09:00 of the 3rd is past it.
    const utc = new Recurrence('FREQ=DAILY;UNTIL=20260303T075900Z', start, 'Europe/Paris');
    expect(iso(utc.between(start, wall('2026-03-10T00:00')))).toEqual(['2026-03-01T09:00', '2026-03-02T09:00']);
    const local = new Recurrence('FREQ=DAILY;UNTIL=20260303T090000', start, 'Europe/Paris');
    expect(iso(local.between(start, wall('2026-03-10T00:00')))).toHaveLength(3);
  });
});

describe('wall clock', () => {
  it('reads local dates and times, and refuses what is not one', () => {
    expect(parseLocalDateTime('2026-03-02T09:00')?.toISOString()).toBe('2026-03-02T09:00:00.000Z');
    expect(parseLocalDateTime('2026-02-30T09:00')).toBeNull();
    expect(parseLocalDateTime('2026-03-02T24:00')).toBeNull();
    expect(parseLocalDateTime('2026-03-02T09:00Z')).toBeNull();
  });

  it("shows an instant on a zone's clock, to the minute", () => {
    expect(wallClock(new Date('2026-07-01T07:00:59Z'), 'Europe/Paris').toISOString()).toBe('2026-07-01T09:00:00.000Z');
  });
});
