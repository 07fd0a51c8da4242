// Calendar arithmetic for segment filters' dates, pure (no clock of its own: the caller passes one).
//
// Dates take absolute values (2024-05-01, 2024-05-01T10:00:00Z; a date-time needs its offset)
// or relative ones: now, today, yesterday, tomorrow, "-7 days", "+2 weeks", "-3 hours",
// "this|last|next week|month|year", and anniversary (month and day of today, any year; eq only).
// Relative values resolve when the filter is compiled, against the caller's clock and the
// organization's time zone: a day-sized value ("-7 days", 2024-05-01) is that whole local day, so
// gte means "on or after that day" and gt "after that day"; hours, minutes, now and date-times
// are instants. Months clamp to the month's end (-1 month on 31 March is 29 February in 2024).

export type DateUnit = 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';
export type PeriodUnit = 'week' | 'month' | 'year';

export type DateExpr =
  /** An absolute calendar day, YYYY-MM-DD. */
  | { type: 'day'; date: string }
  /** An absolute instant, as an ISO string in UTC. */
  | { type: 'instant'; at: string }
  | { type: 'now' }
  /** today is { amount: 0, unit: 'day' }; day-sized units give a day, hours and minutes an instant. */
  | { type: 'offset'; amount: number; unit: DateUnit }
  /** this month is { shift: 0 }, last month { shift: -1 }. */
  | { type: 'period'; shift: -1 | 0 | 1; unit: PeriodUnit }
  | { type: 'anniversary' };

/** A rolling window that ends now ("30 days"). */
export interface Span {
  amount: number;
  unit: DateUnit;
}

export interface Clock {
  now: Date;
  /** IANA time zone the calendar is read in. */
  timeZone: string;
}

export type ResolvedDate =
  /** Local calendar days [from, to), to exclusive. */
  | { type: 'days'; from: string; to: string }
  | { type: 'instant'; at: Date }
  | { type: 'anniversary'; monthDay: string };

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})$/i;
const OFFSET = /^([+-])\s*(\d{1,4})\s*(minute|hour|day|week|month|year)s?$/;
const SPAN = /^-?\s*(\d{1,4})\s*(minute|hour|day|week|month|year)s?$/;
const PERIOD = /^(this|last|next)\s+(week|month|year)$/;
const NAMED: Record<string, DateExpr> = {
  now: { type: 'now' },
  today: { type: 'offset', amount: 0, unit: 'day' },
  yesterday: { type: 'offset', amount: -1, unit: 'day' },
  tomorrow: { type: 'offset', amount: 1, unit: 'day' },
  anniversary: { type: 'anniversary' },
};

const pad = (n: number, width = 2) => String(n).padStart(width, '0');
const ymd = (year: number, month: number, day: number) => `${pad(year, 4)}-${pad(month)}-${pad(day)}`;
const splitDay = (date: string): [number, number, number] => {
  const [y, m, d] = date.split('-').map(Number);
  return [y!, m!, d!];
};
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

export function isRealDay(value: string): boolean {
  if (!DAY.test(value)) return false;
  const [y, m, d] = splitDay(value);
  return utcDay(Date.UTC(y, m - 1, d)) === value && y >= 1;
}

/** Parses an absolute or relative date value; undefined when it is neither. */
export function parseDateValue(raw: string): DateExpr | undefined {
  const text = raw.trim().toLowerCase();
  const named = NAMED[text];
  if (named) return named;
  if (DAY.test(text)) return isRealDay(text) ? { type: 'day', date: text } : undefined;
  if (DATE_TIME.test(text)) {
    const at = new Date(text.replace(' ', 'T').toUpperCase());
    return Number.isNaN(at.getTime()) ? undefined : { type: 'instant', at: at.toISOString() };
  }
  const offset = OFFSET.exec(text);
  if (offset) {
    const amount = Number(offset[2]) * (offset[1] === '-' ? -1 : 1);
    return { type: 'offset', amount, unit: offset[3] as DateUnit };
  }
  const period = PERIOD.exec(text);
  if (period) {
    const shift = period[1] === 'last' ? -1 : period[1] === 'next' ? 1 : 0;
    return { type: 'period', shift, unit: period[2] as PeriodUnit };
  }
  return undefined;
}

/** Parses a window length: "30 days" and "-30 days" both mean the 30 days up to now. */
export function parseSpan(raw: string): Span | undefined {
  const match = SPAN.exec(raw.trim().toLowerCase());
  return match ? { amount: Number(match[1]), unit: match[2] as DateUnit } : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock reading of an instant in a time zone, as milliseconds of a UTC clock. */
function wallClock(at: Date, timeZone: string): number {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  const part: Record<string, number> = {};
  for (const { type, value } of format.formatToParts(at)) part[type] = Number(value);
  const wall = Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!);
  return wall + at.getUTCMilliseconds();
}

/** The instant a wall-clock time (as UTC milliseconds) happens in a time zone. */
function fromWallClock(wall: number, timeZone: string): Date {
  // The offset at the guess can differ from the offset at the answer across a DST change;
  // a second pass with the answer's offset settles it.
  const guess = wall - (wallClock(new Date(wall), timeZone) - wall);
  return new Date(wall - (wallClock(new Date(guess), timeZone) - guess));
}

/** The local calendar day of an instant, YYYY-MM-DD. */
export function localDay(at: Date, timeZone: string): string {
  return utcDay(wallClock(at, timeZone));
}

/** The instant a local calendar day begins. */
export function startOfDay(date: string, timeZone: string): Date {
  const [y, m, d] = splitDay(date);
  return fromWallClock(Date.UTC(y, m - 1, d), timeZone);
}

export function addDays(date: string, days: number): string {
  const [y, m, d] = splitDay(date);
  return utcDay(Date.UTC(y, m - 1, d + days));
}

/** Adds calendar months, clamping to the last day of a shorter month. */
export function addMonths(date: string, months: number): string {
  const [y, m, d] = splitDay(date);
  const first = new Date(Date.UTC(y, m - 1 + months, 1));
  const year = first.getUTCFullYear();
  const month = first.getUTCMonth();
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  return ymd(year, month + 1, Math.min(d, last));
}

function shiftDay(date: string, amount: number, unit: DateUnit): string {
  switch (unit) {
    case 'week':
      return addDays(date, amount * 7);
    case 'month':
      return addMonths(date, amount);
    case 'year':
      return addMonths(date, amount * 12);
    default:
      return addDays(date, amount);
  }
}

const DAY_MS = 86_400_000;
const EXACT_MS: Partial<Record<DateUnit, number>> = { minute: 60_000, hour: 3_600_000 };

function periodOf(today: string, shift: number, unit: PeriodUnit): { from: string; to: string } {
  const [y, m] = splitDay(today);
  if (unit === 'week') {
    // Weeks start on Monday (ISO 8601).
    const weekday = (new Date(`${today}T00:00:00Z`).getUTCDay() + 6) % 7;
    const from = addDays(today, -weekday + shift * 7);
    return { from, to: addDays(from, 7) };
  }
  const from = unit === 'month' ? addMonths(ymd(y, m, 1), shift) : ymd(y + shift, 1, 1);
  return { from, to: addMonths(from, unit === 'month' ? 1 : 12) };
}

/** Resolves a date value against a clock: a range of local days, an instant, or a month-day. */
export function resolveDate(expr: DateExpr, clock: Clock): ResolvedDate {
  const today = localDay(clock.now, clock.timeZone);
  switch (expr.type) {
    case 'day':
      return { type: 'days', from: expr.date, to: addDays(expr.date, 1) };
    case 'instant':
      return { type: 'instant', at: new Date(expr.at) };
    case 'now':
      return { type: 'instant', at: clock.now };
    case 'offset': {
      const exact = EXACT_MS[expr.unit];
      if (exact) return { type: 'instant', at: new Date(clock.now.getTime() + expr.amount * exact) };
      const day = shiftDay(today, expr.amount, expr.unit);
      return { type: 'days', from: day, to: addDays(day, 1) };
    }
    case 'period':
      return { type: 'days', ...periodOf(today, expr.shift, expr.unit) };
    case 'anniversary':
      return { type: 'anniversary', monthDay: today.slice(5) };
  }
}

/** Where a rolling window that ends now begins: calendar units keep the local time of day. */
export function spanStart(span: Span, clock: Clock): Date {
  const exact = EXACT_MS[span.unit];
  if (exact) return new Date(clock.now.getTime() - span.amount * exact);
  const wall = wallClock(clock.now, clock.timeZone);
  const timeOfDay = ((wall % DAY_MS) + DAY_MS) % DAY_MS;
  const day = shiftDay(utcDay(wall), -span.amount, span.unit);
  return fromWallClock(Date.parse(`${day}T00:00:00Z`) + timeOfDay, clock.timeZone);
}
