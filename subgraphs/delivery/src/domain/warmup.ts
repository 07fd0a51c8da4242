// Sending IPs: the mailbox-provider group of a recipient, an IP's warm-up curve (how much it may
// send to each group per day and per hour), and the reputation score that throttles and pauses
// an IP or a sending domain. Pure rules; the engine's side is in app/sending-ips.ts.

/** Mailbox providers judge an IP each on its own, so each group is warmed up on its own. */
export const PROVIDER_GROUPS = ['gmail', 'microsoft', 'yahoo', 'other'] as const;
export type ProviderGroup = (typeof PROVIDER_GROUPS)[number];

const GROUP_OF_DOMAIN: Record<string, ProviderGroup> = {
  'gmail.com': 'gmail',
  'googlemail.com': 'gmail',
  'yahoo.com': 'yahoo',
  'ymail.com': 'yahoo',
  'rocketmail.com': 'yahoo',
  'aol.com': 'yahoo',
};
/** outlook.com, hotmail.co.uk, live.fr, msn.com: Microsoft's consumer domains exist per country. */
const MICROSOFT = /^(outlook|hotmail|live|msn|passport|windowslive)\.[a-z.]+$/;
/** yahoo.co.uk, yahoo.fr, aol.de... */
const YAHOO = /^(yahoo|ymail|aol)\.[a-z.]+$/;

/** The group of a recipient address by its domain (no MX lookup: the big providers' domains are known). */
export function providerGroupOf(address: string): ProviderGroup {
  const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
  const known = GROUP_OF_DOMAIN[domain];
  if (known) return known;
  if (MICROSOFT.test(domain)) return 'microsoft';
  if (YAHOO.test(domain)) return 'yahoo';
  return 'other';
}

/**
 * An IP's warm-up curve, as data: the messages a day to each provider group on the first days
 * (`daily[0]` on its start date), then each day `growth` times the day before. An hour takes at
 * most `hourlyShare` of its day, so a day's volume spreads over at least 1/hourlyShare hours.
 */
export interface WarmupSchedule {
  daily: number[];
  growth: number;
  hourlyShare: number;
}

/** BillionMail's default: 1,000 a day to 10,000 a day over 7 days, then ×1.3 a day. */
export const DEFAULT_WARMUP: WarmupSchedule = {
  daily: [1000, 2500, 4000, 5500, 7000, 8500, 10000],
  growth: 1.3,
  hourlyShare: 0.1,
};

/** Above this a day, an IP counts as warm: no cap. */
const WARM = 1e9;
const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** The UTC day of a date (YYYY-MM-DD) as days since the epoch. */
const dayNumber = (isoDate: string) => Math.floor(Date.parse(`${isoDate}T00:00:00Z`) / DAY_MS);

export interface Caps {
  /** Messages a day to one provider group; Infinity when warm (or no schedule). */
  day: number;
  hour: number;
}

/** An IP's caps per provider group at `now`; before its start date it sends nothing. */
export function warmupCaps(schedule: WarmupSchedule | null, startedOn: string | null, now: Date): Caps {
  if (!schedule || !startedOn || schedule.daily.length === 0) return { day: Infinity, hour: Infinity };
  const day = Math.floor(now.getTime() / DAY_MS) - dayNumber(startedOn);
  if (day < 0) return { day: 0, hour: 0 };
  const last = schedule.daily.length - 1;
  const daily = day <= last ? schedule.daily[day]! : schedule.daily[last]! * schedule.growth ** (day - last);
  if (daily >= WARM) return { day: Infinity, hour: Infinity };
  const perDay = Math.floor(daily);
  return { day: perDay, hour: Math.max(1, Math.ceil(perDay * schedule.hourlyShare)) };
}

/** The windows counters are kept in: the UTC day and hour, as stamps, and when each ends. */
export function windowsOf(now: Date) {
  const t = now.getTime();
  const dayStart = Math.floor(t / DAY_MS) * DAY_MS;
  const hourStart = Math.floor(t / HOUR_MS) * HOUR_MS;
  return {
    day: new Date(dayStart).toISOString().slice(0, 10),
    hour: new Date(hourStart).toISOString().slice(0, 13),
    nextDay: new Date(dayStart + DAY_MS),
    nextHour: new Date(hourStart + HOUR_MS),
  };
}

// --- Reputation ----------------------------------------------------------------------------------
// A score of 100 minus penalty points, each kind of trouble worth its weight, halving every
// REPUTATION_HALF_LIFE_MS so an IP recovers by itself once the trouble stops.

/** What counts against an IP or a sending domain, and how much. */
export const PENALTIES = {
  /** A 4xx reply at send time or a delayed DSN: the receiver asks us to slow down. */
  deferral: 1,
  /** Refused for the sender: authentication, policy, content, rate (bounce.ts's `sender` reasons). */
  policy_bounce: 5,
  /** Refused for a blocklisted IP or domain, or bad reputation. */
  reputation_bounce: 10,
  complaint: 10,
} as const;
export type PenaltyKind = keyof typeof PENALTIES;

export const REPUTATION_HALF_LIFE_MS = 24 * HOUR_MS;
/** Below this score an IP (or a domain) is throttled: its caps and weight scale with the score. */
export const THROTTLE_BELOW = 80;
/** Below this score it is paused: its messages go to the pool's other IPs, or wait. */
export const PAUSE_BELOW = 50;

/** Penalty points left at `now` of `points` recorded at `at`. */
export const decayed = (points: number, at: Date, now: Date) =>
  points * 0.5 ** (Math.max(0, now.getTime() - at.getTime()) / REPUTATION_HALF_LIFE_MS);

export const scoreOf = (penalty: number) => Math.max(0, Math.round((100 - penalty) * 10) / 10);

export type ReputationState = 'active' | 'throttled' | 'paused';

export function reputationState(score: number): ReputationState {
  if (score < PAUSE_BELOW) return 'paused';
  if (score < THROTTLE_BELOW) return 'throttled';
  return 'active';
}

/** The share of its caps and weight an IP or domain keeps at this score: 0 paused, 1 healthy. */
export function throttleFactor(score: number): number {
  const state = reputationState(score);
  if (state === 'paused') return 0;
  return state === 'throttled' ? score / 100 : 1;
}
