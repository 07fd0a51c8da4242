// A schedule trigger's recurrence: its RFC 5545 RRULE expanded by the `rrule` library on a floating
// wall clock (a Date whose UTC fields are the local date and time of the schedule's zone), from the
// schedule's start (its `dtstart`, else the version's publication). The executor places each
// occurrence in the zone (zoned-time.ts), which keeps 09:00 at 09:00 local across DST changes.
// Pure. Why `rrule` (2.8.1) rather than `rrule-temporal`: it needs no Temporal polyfill on Node 20,
// and its own time-zone support is not needed here, as the expansion runs on the wall clock.
//
// The library expands a series from its start on every query, which costs one step per period
// since the start (a minutely rule a year old: about 10 s). A Recurrence therefore keeps a cursor:
// it restarts the series at the latest period on the rule's grid before the times asked about,
// with the parts the rule took from its start written out, so a query costs only the periods it
// spans. A rule with COUNT carries how many occurrences fell before the cursor.

import type { Options } from 'rrule';
import * as rruleModule from 'rrule';

// A CommonJS package whose named exports Node's ESM loader cannot see: there they sit on its default.
const { RRule } = (rruleModule as { default?: typeof rruleModule }).default ?? rruleModule;
type Rule = InstanceType<typeof RRule>;

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The rule parts RFC 5545 defines, with the values each takes. */
const PARTS: Record<string, RegExp> = {
  FREQ: /^(SECONDLY|MINUTELY|HOURLY|DAILY|WEEKLY|MONTHLY|YEARLY)$/,
  UNTIL: /^\d{8}(T\d{6}Z?)?$/,
  COUNT: /^\d{1,6}$/,
  INTERVAL: /^\d{1,4}$/,
  BYSECOND: /^\d{1,2}(,\d{1,2})*$/,
  BYMINUTE: /^\d{1,2}(,\d{1,2})*$/,
  BYHOUR: /^\d{1,2}(,\d{1,2})*$/,
  BYDAY: /^([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)(,([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU))*$/,
  BYMONTHDAY: /^[+-]?\d{1,2}(,[+-]?\d{1,2})*$/,
  BYYEARDAY: /^[+-]?\d{1,3}(,[+-]?\d{1,3})*$/,
  BYWEEKNO: /^[+-]?\d{1,2}(,[+-]?\d{1,2})*$/,
  BYMONTH: /^\d{1,2}(,\d{1,2})*$/,
  BYSETPOS: /^[+-]?\d{1,3}(,[+-]?\d{1,3})*$/,
  WKST: /^(MO|TU|WE|TH|FR|SA|SU)$/,
};

/** Each number a list part may hold: [min, max, whether it may be negative]. */
const RANGES: Record<string, [number, number, boolean]> = {
  BYMINUTE: [0, 59, false],
  BYHOUR: [0, 23, false],
  BYMONTHDAY: [1, 31, true],
  BYYEARDAY: [1, 366, true],
  BYWEEKNO: [1, 53, true],
  BYMONTH: [1, 12, false],
  BYSETPOS: [1, 366, true],
};

/**
 * COUNT is counted from the start on first use (a COUNT series cannot restart mid-way without
 * knowing how many came before); this keeps that first count short.
 */
export const MAX_COUNT = 10_000;

/** How far past the later of now and the start a rule must occur to have a future. */
const HORIZON_YEARS = 100;

/** Why an RRULE value cannot be a schedule ("FREQ=WEEKLY;BYDAY=MO"), or null. */
export function ruleProblem(value: string): string | null {
  const parts = new Map<string, string>();
  for (const part of value.replace(/^RRULE:/i, '').split(';')) {
    const [raw = '', given, extra] = part.split('=');
    const name = raw.toUpperCase();
    const pattern = Object.hasOwn(PARTS, name) ? PARTS[name] : undefined;
    if (!pattern || given === undefined || extra !== undefined)
      return `${part} is not an RRULE part (NAME=VALUE; the start is the trigger's dtstart)`;
    const v = given.toUpperCase();
    if (!pattern.test(v)) return `${raw}=${given} is not a valid value`;
    if (parts.has(name)) return `${raw} is given twice`;
    const range = RANGES[name];
    if (range && v.split(',').some((n) => !inRange(Number(n), range))) return `${raw}=${given} is out of range`;
    parts.set(name, v);
  }
  const freq = parts.get('FREQ');
  if (!freq) return 'FREQ is required';
  if (freq === 'SECONDLY' || (parts.get('BYSECOND') ?? '0').split(',').some((s) => Number(s) !== 0))
    return 'schedules run at most once a minute: SECONDLY and BYSECOND other than 0 are not supported';
  if (parts.has('UNTIL') && parts.has('COUNT')) return 'UNTIL and COUNT cannot both be given';
  if (Number(parts.get('COUNT') ?? 1) < 1 || Number(parts.get('COUNT') ?? 1) > MAX_COUNT)
    return `COUNT must be 1 to ${MAX_COUNT}`;
  if (Number(parts.get('INTERVAL') ?? 1) < 1) return 'INTERVAL must be at least 1';
  // RFC 5545 3.3.10: the parts each frequency takes.
  const ordinals = (parts.get('BYDAY') ?? '').split(',').filter((d) => /\d/.test(d));
  if (ordinals.some((d) => !inRange(Number(d.slice(0, -2)), [1, 53, true])))
    return `BYDAY=${parts.get('BYDAY')} has an ordinal out of range`;
  if (ordinals.length && (!['MONTHLY', 'YEARLY'].includes(freq) || parts.has('BYWEEKNO')))
    return 'BYDAY ordinals (1MO, -1FR) are only for MONTHLY rules and YEARLY rules without BYWEEKNO';
  if (parts.has('BYMONTHDAY') && freq === 'WEEKLY') return 'BYMONTHDAY is not for WEEKLY rules';
  if (parts.has('BYYEARDAY') && ['DAILY', 'WEEKLY', 'MONTHLY'].includes(freq))
    return 'BYYEARDAY is not for DAILY, WEEKLY or MONTHLY rules';
  if (parts.has('BYWEEKNO') && freq !== 'YEARLY') return 'BYWEEKNO is only for YEARLY rules';
  if (parts.has('BYSETPOS') && ![...parts.keys()].some((p) => p.startsWith('BY') && p !== 'BYSETPOS'))
    return 'BYSETPOS needs another BYxxx part to pick from';
  return null;
}

const inRange = (n: number, [min, max, negative]: [number, number, boolean]) =>
  Number.isInteger(n) && ((n >= min && n <= max) || (negative && n <= -min && n >= -max));

/** A local date and time ("2026-03-02T09:00") as a floating wall-clock Date, or null. */
export function parseLocalDateTime(value: string): Date | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!match) return null;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
  const wall = new Date(Date.UTC(year, month - 1, day, hour, minute));
  const same =
    wall.getUTCFullYear() === year &&
    wall.getUTCMonth() === month - 1 &&
    wall.getUTCDate() === day &&
    wall.getUTCHours() === hour;
  return same ? wall : null;
}

const wallFormats = new Map<string, Intl.DateTimeFormat>();

/** What the zone's clock shows at an instant, to the minute, as a floating Date. */
export function wallClock(at: Date, zone: string): Date {
  let format = wallFormats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    wallFormats.set(zone, format);
  }
  const p: Record<string, number> = {};
  for (const part of format.formatToParts(at)) p[part.type] = Number(part.value);
  return new Date(Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!));
}

/** A schedule's series: its rule from its start, on the wall clock. */
export class Recurrence {
  /** The rule's options with what it took from its start written out; no start, no count. */
  private readonly options: Partial<Options>;
  readonly count: number | null;
  private cursor: { at: Date; before: number };

  /**
   * @param value an RRULE value that passed ruleProblem
   * @param start the series' first possible occurrence (wall clock, seconds 0)
   * @param zone  the zone the wall clock is in, for an UNTIL given in UTC
   */
  constructor(
    value: string,
    readonly start: Date,
    zone: string,
  ) {
    const body = value.replace(/^RRULE:/i, '').toUpperCase();
    const { until: _, count, dtstart: __, ...parsed } = RRule.parseString(body);
    const untilText = /(?:^|;)UNTIL=([^;]+)/.exec(body)?.[1];
    this.options = {
      ...parsed,
      ...takenFromStart(parsed, start),
      until: untilText ? wallUntil(untilText, zone) : null,
    };
    this.count = count ?? null;
    this.cursor = { at: start, before: 0 };
  }

  /** The occurrences from `from` to `to` (wall clock), both included, in order. */
  between(from: Date, to: Date): Date[] {
    this.moveTo(from);
    return this.ruleFrom(this.cursor).between(from, to, true);
  }

  /**
   * The first occurrence at or after `from` (wall clock), looking up to a century past it and the
   * start (a rule may occur once in decades: a 29 February that is a Monday), or null.
   */
  firstFrom(from: Date): Date | null {
    const at = from > this.start ? from : this.start;
    this.moveTo(at);
    const horizon = new Date(at);
    horizon.setUTCFullYear(at.getUTCFullYear() + HORIZON_YEARS);
    const until = this.options.until && this.options.until < horizon ? this.options.until : horizon;
    return this.ruleFrom(this.cursor, until).after(at, true);
  }

  private ruleFrom(cursor: { at: Date; before: number }, until = this.options.until ?? null): Rule {
    // noCache: the executor asks about a new minute each time; the library would keep every answer.
    return new RRule(
      { ...this.options, until, dtstart: cursor.at, count: this.count === null ? null : this.count - cursor.before },
      true,
    );
  }

  /** Restarts the series at the latest period on its grid that begins before `at`, counting what it skips. */
  private moveTo(at: Date) {
    if (at < this.cursor.at) this.cursor = { at: this.start, before: 0 };
    const next = latestGridPeriod(this.options, this.start, at);
    if (next <= this.cursor.at) return;
    const before =
      this.count === null
        ? 0
        : this.cursor.before +
          this.ruleFrom(this.cursor).between(this.cursor.at, new Date(next.getTime() - 1), true).length;
    this.cursor = { at: next, before: Math.min(before, this.count ?? 0) };
  }
}

/**
 * The parts the library fills from the start when a rule leaves them out (RFC 5545: "derived from
 * DTSTART"), written out so that a series restarted later keeps them.
 */
function takenFromStart(options: Partial<Options>, start: Date): Partial<Options> {
  const { freq, byweekno, byyearday, bymonthday, byweekday } = options;
  const taken: Partial<Options> = {};
  if (!(byweekno || byyearday || bymonthday || byweekday)) {
    if (freq === RRule.YEARLY) {
      taken.bymonth = options.bymonth ?? start.getUTCMonth() + 1;
      taken.bymonthday = start.getUTCDate();
    }
    if (freq === RRule.MONTHLY) taken.bymonthday = start.getUTCDate();
    if (freq === RRule.WEEKLY) taken.byweekday = [(start.getUTCDay() + 6) % 7];
  }
  if (options.byhour == null && freq! < RRule.HOURLY) taken.byhour = start.getUTCHours();
  if (options.byminute == null && freq! < RRule.MINUTELY) taken.byminute = start.getUTCMinutes();
  taken.bysecond = 0;
  return taken;
}

/**
 * UNTIL as the wall clock: a UTC time (…Z, what RFC 5545 asks for with a zoned start) is read on
 * the zone's clock; a local time as written; a date alone runs through the end of that day.
 */
function wallUntil(value: string, zone: string): Date {
  const [, y, m, d, time] = /^(\d{4})(\d{2})(\d{2})(?:T(\d{6})Z?)?$/.exec(value)!;
  if (!time) return new Date(Date.UTC(Number(y), Number(m) - 1, Number(d), 23, 59, 59));
  const at = new Date(
    Date.UTC(
      Number(y),
      Number(m) - 1,
      Number(d),
      Number(time.slice(0, 2)),
      Number(time.slice(2, 4)),
      Number(time.slice(4)),
    ),
  );
  return value.endsWith('Z') ? wallClock(at, zone) : at;
}

/** Monday 1970-01-05, day 4 of the epoch: weeks are counted from a Monday. */
const MONDAY = 4;

/**
 * The start of the latest period of the rule's grid (FREQ periods, every INTERVAL of them from the
 * start's own, weeks beginning on WKST) that begins at or before `at`; the start itself while `at`
 * is still in the start's period.
 */
function latestGridPeriod(options: Partial<Options>, start: Date, at: Date): Date {
  const interval = options.interval ?? 1;
  const wkst = typeof options.wkst === 'number' ? options.wkst : (options.wkst?.weekday ?? 0);
  const weekShift = MONDAY + wkst;
  const [index, startOf] = periodOf(options.freq!, weekShift);
  const first = index(start);
  const steps = Math.floor((index(at) - first) / interval);
  return steps > 0 ? startOf(first + steps * interval) : start;
}

/** How a frequency numbers its periods, and where period n begins. */
function periodOf(freq: number, weekShift: number): [(d: Date) => number, (n: number) => Date] {
  const fixed = (ms: number, shift = 0): [(d: Date) => number, (n: number) => Date] => [
    (d) => Math.floor((d.getTime() - shift) / ms),
    (n) => new Date(n * ms + shift),
  ];
  switch (freq) {
    case RRule.MINUTELY:
      return fixed(MINUTE);
    case RRule.HOURLY:
      return fixed(HOUR);
    case RRule.DAILY:
      return fixed(DAY);
    case RRule.WEEKLY:
      return fixed(7 * DAY, weekShift * DAY);
    case RRule.MONTHLY:
      return [
        (d) => d.getUTCFullYear() * 12 + d.getUTCMonth(),
        (n) => new Date(Date.UTC(Math.floor(n / 12), n % 12, 1)),
      ];
    default:
      return [(d) => d.getUTCFullYear(), (n) => new Date(Date.UTC(n, 0, 1))];
  }
}
