// Wall-clock time in a contact's time zone, from Intl alone: what local day and time an instant
// is, the instant a local time falls on (DST-correct: a time skipped by spring-forward moves on
// by the gap, an hour repeated by fall-back takes its first occurrence), the next time a clock
// shows HH:MM, and sending windows. Pure: every function takes `now`.
import type { Weekday } from '../../domain/definition.ts';

export interface LocalTime {
  year: number;
  /** 1-12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: Weekday;
}

const formats = new Map<string, Intl.DateTimeFormat>();
const WEEKDAY: Record<string, Weekday> = {
  Mon: 'mon',
  Tue: 'tue',
  Wed: 'wed',
  Thu: 'thu',
  Fri: 'fri',
  Sat: 'sat',
  Sun: 'sun',
};

function formatOf(zone: string): Intl.DateTimeFormat {
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
    });
    formats.set(zone, format);
  }
  return format;
}

/** A zone name the runtime knows, else UTC (a contact's stored zone may be anything). */
export function knownZone(zone: string | null | undefined, fallback = 'UTC'): string {
  for (const candidate of [zone, fallback]) {
    if (!candidate) continue;
    try {
      formatOf(candidate);
      return candidate;
    } catch {
      // not a zone this runtime knows
    }
  }
  return 'UTC';
}

export function localTime(at: Date, zone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatOf(zone).formatToParts(at)) parts[p.type] = p.value;
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAY[parts.weekday!]!,
  };
}

/** Minutes the zone is ahead of UTC at an instant. */
function offsetMinutes(ms: number, zone: string): number {
  const l = localTime(new Date(ms), zone);
  const asUtc = Date.UTC(l.year, l.month - 1, l.day, l.hour, l.minute);
  return Math.round((asUtc - Math.floor(ms / 60_000) * 60_000) / 60_000);
}

/** The instant a local date and time falls on in `zone`. */
export function zonedInstant(
  date: { year: number; month: number; day: number },
  time: { hour: number; minute: number },
  zone: string,
): Date {
  const wall = Date.UTC(date.year, date.month - 1, date.day, time.hour, time.minute);
  // A change of offset happens at most once around a given wall time: the offsets a day before
  // and a day after are the only candidates. The earliest that reads back as the wall time wins
  // (the first of a repeated hour); none does in a skipped hour, which then moves on by the gap.
  const before = offsetMinutes(wall - 86_400_000, zone);
  const after = offsetMinutes(wall + 86_400_000, zone);
  const candidates = [...new Set([before, after])].map((o) => wall - o * 60_000).sort((a, b) => a - b);
  for (const t of candidates) if (wall - offsetMinutes(t, zone) * 60_000 === t) return new Date(t);
  return new Date(wall - before * 60_000);
}

/** "09:30" -> { hour: 9, minute: 30 } */
export function parseTimeOfDay(hhmm: string): { hour: number; minute: number } {
  const [h, m] = hhmm.split(':');
  return { hour: Number(h), minute: Number(m) };
}

/** The local calendar date `days` after a local date (Gregorian arithmetic, no zone involved). */
export function addDays(date: { year: number; month: number; day: number }, days: number) {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

const WEEKDAYS_BY_UTC_DAY: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
export const weekdayOf = (date: { year: number; month: number; day: number }): Weekday =>
  WEEKDAYS_BY_UTC_DAY[new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay()]!;

/** The first instant after `now` when the zone's clock shows `hhmm`, on one of `days` when given. */
export function nextTimeOfDay(now: Date, zone: string, hhmm: string, days?: readonly Weekday[]): Date {
  const today = localTime(now, zone);
  const time = parseTimeOfDay(hhmm);
  for (let i = 0; i <= 8; i++) {
    const date = addDays(today, i);
    if (days && !days.includes(weekdayOf(date))) continue;
    const at = zonedInstant(date, time, zone);
    if (at.getTime() > now.getTime()) return at;
  }
  throw new Error(`no ${hhmm} within 8 days in ${zone}`);
}

export interface SendingWindow {
  days: readonly Weekday[];
  from: string;
  to: string;
}

const minutesOf = (hhmm: string) => {
  const t = parseTimeOfDay(hhmm);
  return t.hour * 60 + t.minute;
};

/**
 * Whether the zone's clock is inside the window. A window that ends before it starts runs over
 * midnight and belongs to the day it opened on.
 */
export function inWindow(now: Date, zone: string, window: SendingWindow): boolean {
  const local = localTime(now, zone);
  const minute = local.hour * 60 + local.minute;
  const from = minutesOf(window.from);
  const to = minutesOf(window.to);
  if (from < to) return window.days.includes(local.weekday) && minute >= from && minute < to;
  if (minute >= from) return window.days.includes(local.weekday);
  return minute < to && window.days.includes(weekdayOf(addDays(local, -1)));
}

/** `now` when inside the window, else when it next opens. */
export function windowOpensAt(now: Date, zone: string, window: SendingWindow): Date {
  return inWindow(now, zone, window) ? now : nextTimeOfDay(now, zone, window.from, window.days);
}
