import { describe, expect, it } from 'vitest';
import { Schedule, Schedules } from './rrule.ts';

const SEGMENT = '01900000-0000-7000-8000-0000000000d1';

const schedule = (rrule: string, dtstart?: string, timezone = 'America/New_York', publishedAt = new Date(0)) =>
  new Schedule(
    { type: 'schedule', rrule, dtstart, timezone, segmentId: SEGMENT },
    { entryRule: { kind: 'once' } },
    publishedAt,
  );

/** An instant as the zone's clock shows it: "1997-09-02 09:00". */
const local = (at: Date, zone: string) => at.toLocaleString('sv-SE', { timeZone: zone, hour12: false }).slice(0, 16);

/** The occurrences from `from` to `to` (UTC instants), as New York's clock shows them. */
const occurrences = (s: Schedule, from = '1990-01-01T00:00:00Z', to = '2010-01-01T00:00:00Z') =>
  s.occurrences(new Date(from), new Date(to)).map((at) => local(at, 'America/New_York'));

const at9 = (...days: string[]) => days.map((d) => `${d} 09:00`);

// RFC 5545 section 3.8.5.3, each with its DTSTART;TZID=America/New_York.
describe('RFC 5545 recurrence examples', () => {
  it('daily for 10 occurrences', () => {
    expect(occurrences(schedule('FREQ=DAILY;COUNT=10', '1997-09-02T09:00'))).toEqual(
      at9(...Array.from({ length: 10 }, (_, i) => `1997-09-${String(2 + i).padStart(2, '0')}`)),
    );
  });

  it('daily until 24 December 1997 (UNTIL in UTC)', () => {
    const all = occurrences(schedule('FREQ=DAILY;UNTIL=19971224T000000Z', '1997-09-02T09:00'));
    expect(all).toHaveLength(113);
    expect(all.at(-1)).toBe('1997-12-23 09:00');
  });

  it('weekly for 10 occurrences: 09:00 local on both sides of the end of daylight saving time', () => {
    const s = schedule('FREQ=WEEKLY;COUNT=10', '1997-09-02T09:00');
    expect(occurrences(s)).toEqual(
      at9(
        '1997-09-02',
        '1997-09-09',
        '1997-09-16',
        '1997-09-23',
        '1997-09-30',
        '1997-10-07',
        '1997-10-14',
        '1997-10-21',
        '1997-10-28',
        '1997-11-04',
      ),
    );
    const utc = s.occurrences(new Date('1997-10-20T00:00:00Z'), new Date('1997-10-29T00:00:00Z'));
    expect(utc.map((d) => d.toISOString())).toEqual(['1997-10-21T13:00:00.000Z', '1997-10-28T14:00:00.000Z']);
  });

  it('every other week on Tuesday and Thursday, for 8 occurrences', () => {
    expect(occurrences(schedule('FREQ=WEEKLY;INTERVAL=2;COUNT=8;WKST=SU;BYDAY=TU,TH', '1997-09-02T09:00'))).toEqual(
      at9(
        '1997-09-02',
        '1997-09-04',
        '1997-09-16',
        '1997-09-18',
        '1997-09-30',
        '1997-10-02',
        '1997-10-14',
        '1997-10-16',
      ),
    );
  });

  it('monthly on the first Friday for 10 occurrences', () => {
    expect(occurrences(schedule('FREQ=MONTHLY;COUNT=10;BYDAY=1FR', '1997-09-05T09:00'))).toEqual(
      at9(
        '1997-09-05',
        '1997-10-03',
        '1997-11-07',
        '1997-12-05',
        '1998-01-02',
        '1998-02-06',
        '1998-03-06',
        '1998-04-03',
        '1998-05-01',
        '1998-06-05',
      ),
    );
  });

  it('every other month on the first and last Sunday, for 10 occurrences', () => {
    expect(occurrences(schedule('FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU', '1997-09-07T09:00'))).toEqual(
      at9(
        '1997-09-07',
        '1997-09-28',
        '1997-11-02',
        '1997-11-30',
        '1998-01-04',
        '1998-01-25',
        '1998-03-01',
        '1998-03-29',
        '1998-05-03',
        '1998-05-31',
      ),
    );
  });

  it('monthly on the second-to-last Monday for 6 months', () => {
    expect(occurrences(schedule('FREQ=MONTHLY;COUNT=6;BYDAY=-2MO', '1997-09-22T09:00'))).toEqual(
      at9('1997-09-22', '1997-10-20', '1997-11-17', '1997-12-22', '1998-01-19', '1998-02-16'),
    );
  });

  it('monthly on the third-to-the-last day of the month', () => {
    const s = schedule('FREQ=MONTHLY;BYMONTHDAY=-3', '1997-09-28T09:00');
    expect(occurrences(s, '1997-09-01T00:00:00Z', '1998-03-01T00:00:00Z')).toEqual(
      at9('1997-09-28', '1997-10-29', '1997-11-28', '1997-12-29', '1998-01-29', '1998-02-26'),
    );
  });

  it('the last work day of the month (BYSETPOS=-1)', () => {
    const s = schedule('FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', '1997-09-29T09:00');
    expect(occurrences(s, '1997-09-01T00:00:00Z', '1998-04-01T00:00:00Z')).toEqual(
      at9('1997-09-30', '1997-10-31', '1997-11-28', '1997-12-31', '1998-01-30', '1998-02-27', '1998-03-31'),
    );
  });

  it('the third Tuesday, Wednesday or Thursday of the month, for 3 occurrences', () => {
    expect(occurrences(schedule('FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3', '1997-09-04T09:00'))).toEqual(
      at9('1997-09-04', '1997-10-07', '1997-11-06'),
    );
  });

  it('every 20th Monday of the year (BYDAY=20MO)', () => {
    const s = schedule('FREQ=YEARLY;BYDAY=20MO', '1997-05-19T09:00');
    expect(occurrences(s, '1997-01-01T00:00:00Z', '2000-01-01T00:00:00Z')).toEqual(
      at9('1997-05-19', '1998-05-18', '1999-05-17'),
    );
  });

  it('Monday of week number 20 (BYWEEKNO=20)', () => {
    const s = schedule('FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO', '1997-05-12T09:00');
    expect(occurrences(s, '1997-01-01T00:00:00Z', '2000-01-01T00:00:00Z')).toEqual(
      at9('1997-05-12', '1998-05-11', '1999-05-17'),
    );
  });

  it('every third year on the 1st, 100th and 200th day, for 10 occurrences (BYYEARDAY)', () => {
    expect(occurrences(schedule('FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200', '1997-01-01T09:00'))).toEqual(
      at9(
        '1997-01-01',
        '1997-04-10',
        '1997-07-19',
        '2000-01-01',
        '2000-04-09',
        '2000-07-18',
        '2003-01-01',
        '2003-04-10',
        '2003-07-19',
        '2006-01-01',
      ),
    );
  });

  it('every Friday the 13th', () => {
    const s = schedule('FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13', '1997-09-02T09:00');
    expect(occurrences(s, '1997-09-01T00:00:00Z', '2001-01-01T00:00:00Z')).toEqual(
      at9('1998-02-13', '1998-03-13', '1998-11-13', '1999-08-13', '2000-10-13'),
    );
  });

  it('the week start (WKST) decides which Sundays pair with which Tuesdays', () => {
    expect(occurrences(schedule('FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO', '1997-08-05T09:00'))).toEqual(
      at9('1997-08-05', '1997-08-10', '1997-08-19', '1997-08-24'),
    );
    expect(occurrences(schedule('FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU', '1997-08-05T09:00'))).toEqual(
      at9('1997-08-05', '1997-08-17', '1997-08-19', '1997-08-31'),
    );
  });

  it('US presidential election day: every four years, the first Tuesday after a Monday in November', () => {
    const s = schedule('FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8', '1996-11-05T09:00');
    expect(occurrences(s, '1996-01-01T00:00:00Z', '2005-01-01T00:00:00Z')).toEqual(
      at9('1996-11-05', '2000-11-07', '2004-11-02'),
    );
  });

  it('a day that does not exist in a month is skipped, not moved', () => {
    expect(occurrences(schedule('FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5', '2007-01-15T09:00'))).toEqual(
      at9('2007-01-15', '2007-01-30', '2007-02-15', '2007-03-15', '2007-03-30'),
    );
  });
});

describe('a schedule on a wall clock', () => {
  const paris = (s: Schedule, from: string, to: string) =>
    s.occurrences(new Date(from), new Date(to)).map((at) => at.toISOString());

  it('every day at 09:00 Europe/Paris stays 09:00 local across both DST changes', () => {
    const s = schedule('FREQ=DAILY;BYHOUR=9;BYMINUTE=0', '2026-03-01T00:00', 'Europe/Paris');
    expect(paris(s, '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      '2026-03-28T08:00:00.000Z',
      '2026-03-29T07:00:00.000Z',
      '2026-03-30T07:00:00.000Z',
    ]);
    expect(paris(s, '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z')).toEqual([
      '2026-10-24T07:00:00.000Z',
      '2026-10-25T08:00:00.000Z',
      '2026-10-26T08:00:00.000Z',
    ]);
  });

  it('02:30 on the spring-forward day, which the clock skips, fires at 03:30 new time; on the fall-back day, at the first 02:30', () => {
    const s = schedule('FREQ=DAILY;BYHOUR=2;BYMINUTE=30', '2026-03-01T00:00', 'Europe/Paris');
    // 28 March 02:30 CET; 29 March read with the offset before the gap (RFC 5545 3.3.5): 03:30 CEST; 30 March 02:30 CEST.
    expect(paris(s, '2026-03-28T00:00:00Z', '2026-03-31T00:00:00Z')).toEqual([
      '2026-03-28T01:30:00.000Z',
      '2026-03-29T01:30:00.000Z',
      '2026-03-30T00:30:00.000Z',
    ]);
    // 25 October: 02:30 happens twice; the occurrence is the first, still CEST.
    expect(paris(s, '2026-10-24T12:00:00Z', '2026-10-25T12:00:00Z')).toEqual(['2026-10-25T00:30:00.000Z']);
  });

  it('without a dtstart the series starts at the minute the version was published: INTERVAL and COUNT count from there', () => {
    // Published Wednesday 2026-03-04 10:17:42 in Paris (09:17:42 UTC).
    const published = new Date('2026-03-04T09:17:42Z');
    const everyOther = schedule('FREQ=DAILY;INTERVAL=2;COUNT=3', undefined, 'Europe/Paris', published);
    expect(paris(everyOther, '2026-03-01T00:00:00Z', '2026-04-01T00:00:00Z')).toEqual([
      '2026-03-04T09:17:00.000Z',
      '2026-03-06T09:17:00.000Z',
      '2026-03-08T09:17:00.000Z',
    ]);
    // An occurrence earlier on the day of publication is not part of the series.
    const at8 = schedule('FREQ=DAILY;BYHOUR=8;BYMINUTE=0', undefined, 'Europe/Paris', published);
    expect(paris(at8, '2026-03-04T00:00:00Z', '2026-03-06T00:00:00Z')).toEqual(['2026-03-05T07:00:00.000Z']);
  });

  it('once COUNT is exhausted there are no more occurrences, however the checks are spread', () => {
    const s = schedule('FREQ=HOURLY;COUNT=3;BYMINUTE=0', '2026-03-02T09:00', 'UTC');
    const fired: string[] = [];
    // The executor's way: one look each minute over the hour before it.
    for (let t = Date.parse('2026-03-02T08:00:00Z'); t <= Date.parse('2026-03-02T16:00:00Z'); t += 60_000) {
      const latest = s.latest(new Date(t - 3_600_000), new Date(t));
      if (latest && fired.at(-1) !== latest.toISOString()) fired.push(latest.toISOString());
    }
    expect(fired).toEqual(['2026-03-02T09:00:00.000Z', '2026-03-02T10:00:00.000Z', '2026-03-02T11:00:00.000Z']);
    expect(s.latest(new Date('2027-01-01T00:00:00Z'), new Date('2027-01-02T00:00:00Z'))).toBeNull();
  });
});

describe('schedules kept per version', () => {
  it('keeps a series between passes and lets go of one no pass asked for', () => {
    const schedules = new Schedules();
    const trigger = { type: 'schedule' as const, rrule: 'FREQ=DAILY', segmentId: SEGMENT };
    const settings = { entryRule: { kind: 'once' as const } };
    const first = schedules.get('v1', 0, trigger, settings, new Date());
    schedules.sweep();
    expect(schedules.get('v1', 0, trigger, settings, new Date())).toBe(first);
    schedules.sweep();
    schedules.sweep();
    expect(schedules.get('v1', 0, trigger, settings, new Date())).not.toBe(first);
  });
});
