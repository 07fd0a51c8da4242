// Whether a minute is an occurrence of an RFC 5545 RRULE, read on the wall clock of the journey's
// time zone. Pure. Covers FREQ (MINUTELY to YEARLY), INTERVAL (counted from 1970-01-01 on that
// clock, as there is no DTSTART), UNTIL, BYMONTH, BYMONTHDAY, BYDAY (weekdays; ordinals such as
// 1MO are read as the weekday), BYHOUR and BYMINUTE. A part the rule leaves out is pinned to the
// start of its period: minute 0, hour 0, Monday for weekly rules, day 1 for monthly and yearly
// ones, January for yearly ones. COUNT, BYSETPOS, BYYEARDAY and BYWEEKNO are not applied.
import type { LocalTime } from './zoned-time.ts';

const DAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
const WEEKDAY_CODE: Record<LocalTime['weekday'], string> = {
  mon: 'MO',
  tue: 'TU',
  wed: 'WE',
  thu: 'TH',
  fri: 'FR',
  sat: 'SA',
  sun: 'SU',
};

const numbers = (value: string | undefined) => value?.split(',').map(Number);

export function isOccurrence(rrule: string, at: LocalTime): boolean {
  const parts = new Map<string, string>();
  for (const part of rrule.replace(/^RRULE:/i, '').split(';')) {
    const [name, value] = part.split('=');
    if (name && value) parts.set(name.toUpperCase(), value.toUpperCase());
  }
  const freq = parts.get('FREQ');
  const interval = Number(parts.get('INTERVAL') ?? 1);
  const until = parts.get('UNTIL');
  if (until) {
    const stamp = `${String(at.year).padStart(4, '0')}${String(at.month).padStart(2, '0')}${String(at.day).padStart(2, '0')}T${String(at.hour).padStart(2, '0')}${String(at.minute).padStart(2, '0')}00`;
    if (stamp > (until.length === 8 ? `${until}T235959` : until.replace('Z', ''))) return false;
  }
  const order = ['MINUTELY', 'HOURLY', 'DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'];
  const level = order.indexOf(freq ?? '');
  if (level < 0) return false;
  const pinned = (name: string, value: number, defaultValue: number, from: number) => {
    const listed = numbers(parts.get(name));
    if (listed) return listed.includes(value);
    return level < from || value === defaultValue;
  };
  if (!pinned('BYMINUTE', at.minute, 0, 1)) return false;
  if (!pinned('BYHOUR', at.hour, 0, 2)) return false;
  const byDay = parts
    .get('BYDAY')
    ?.split(',')
    .map((d) => d.replace(/^[+-]?\d+/, ''));
  const code = WEEKDAY_CODE[at.weekday];
  if (byDay ? !byDay.includes(code) : freq === 'WEEKLY' && code !== DAYS[0]) return false;
  if (!byDay && !pinned('BYMONTHDAY', at.day, 1, 4)) return false;
  if (byDay && parts.has('BYMONTHDAY') && !numbers(parts.get('BYMONTHDAY'))!.includes(at.day)) return false;
  if (!pinned('BYMONTH', at.month, 1, 5)) return false;
  if (interval <= 1) return true;
  const days = Math.floor(Date.UTC(at.year, at.month - 1, at.day) / 86_400_000);
  const count = [
    days * 1440 + at.hour * 60 + at.minute,
    days * 24 + at.hour,
    days,
    // Weeks from Monday 1970-01-05.
    Math.floor((days - 4) / 7),
    (at.year - 1970) * 12 + at.month - 1,
    at.year - 1970,
  ][level]!;
  return count % interval === 0;
}
