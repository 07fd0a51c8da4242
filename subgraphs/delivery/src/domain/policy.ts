// Sending policy, as pure functions: quiet hours in the recipient's time zone and the retry
// backoff. The engine applies them to a whole batch at once.

export interface QuietHours {
  /** 'HH:MM', local to the recipient. */
  start: string;
  end: string;
  mode: 'defer' | 'drop';
}

const minutesOf = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
};

const formatters = new Map<string, Intl.DateTimeFormat>();
function localMinutes(at: Date, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(at);
  const hour = Number(parts.find((p) => p.type === 'hour')!.value);
  const minute = Number(parts.find((p) => p.type === 'minute')!.value);
  return hour * 60 + minute;
}

export const isTimeZone = (tz: string) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
};

/**
 * Whether a message may go now: 'send', 'drop', or the moment the quiet window ends. The window
 * may cross midnight (22:00-07:00). An unknown time zone counts as UTC.
 */
export function quietHoursDecision(
  now: Date,
  timeZone: string | null,
  quiet: QuietHours | null,
): 'send' | 'drop' | Date {
  if (!quiet) return 'send';
  const tz = timeZone && isTimeZone(timeZone) ? timeZone : 'UTC';
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  const local = localMinutes(now, tz);
  const inside = start <= end ? local >= start && local < end : local >= start || local < end;
  if (!inside) return 'send';
  if (quiet.mode === 'drop') return 'drop';
  const wait = (end - local + 24 * 60) % (24 * 60);
  // Whole minutes: the local clock reads HH:MM, so round down to the minute first.
  const base = new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  return new Date(base.getTime() + wait * 60_000);
}

/** Delay before retry `attempt` (1-based) of a transient failure: 30 s, 1 min, 2 min... capped at 1 h. */
export const retryDelayMs = (attempt: number) => Math.min(3_600_000, 30_000 * 2 ** (attempt - 1));

export const MAX_ATTEMPTS = 6;
