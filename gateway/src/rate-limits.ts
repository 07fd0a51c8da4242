// Per-caller request budgets, as token buckets that refill a minute's budget each minute and hold
// at most that much: anonymous callers by client address (an IPv6 address by its /64, which one
// subscriber usually holds whole), signed-in users by user and organization, API keys by key.
import { isIPv4, isIPv6 } from 'node:net';
import type { RequestContext } from '@mauntic/kernel';
import type { HttpRequest, Logger, RateLimiter } from '@mauntic/platform';
import { GraphQLError } from 'graphql';

export interface RateLimitSettings {
  /** Requests a minute per client address for callers without credentials; 0 = unlimited. */
  anonymousPerMinute: number;
  /** Requests a minute per user (in one organization) or per API key; 0 = unlimited. */
  authenticatedPerMinute: number;
  /** Proxies in front of the gateway that append the address they saw to X-Forwarded-For. */
  trustedProxies: number;
}

export interface Budget {
  key: string;
  perMinute: number;
}

/** The client's address: the socket's peer, or what the nearest trusted proxy says it saw. */
export function clientAddress(req: Pick<HttpRequest, 'headers' | 'raw'>, trustedProxies: number): string {
  const peer = req.raw.socket.remoteAddress ?? 'unknown';
  if (trustedProxies === 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const forwarded = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  // Each trusted proxy appended the address it saw; anything further left the client could have written.
  const chain = [...forwarded, peer];
  return chain[Math.max(0, chain.length - 1 - trustedProxies)]!;
}

/** The part of an address that names one subscriber: IPv4 whole, IPv6 by its /64. */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address.split('%')[0]!)) return address;
  const [head = '', tail] = address.split('%')[0]!.toLowerCase().split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups =
    tail === undefined
      ? headGroups
      : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/** Whose budget a request spends: the caller's when authenticated, its address's otherwise. */
export function budgetOf(caller: RequestContext | undefined, address: string, settings: RateLimitSettings): Budget {
  const actor = caller?.actor;
  if (actor?.type === 'user')
    return { key: `user:${caller!.organizationId}:${actor.id}`, perMinute: settings.authenticatedPerMinute };
  if (actor?.type === 'api_key') return { key: `key:${actor.id}`, perMinute: settings.authenticatedPerMinute };
  return { key: `ip:${addressKey(address)}`, perMinute: settings.anonymousPerMinute };
}

/** Logs a failing limiter once every 10 seconds at most, not once a request. */
export function limiterFailureLog(logger: Logger): (error: unknown) => void {
  let loggedAt = Number.NEGATIVE_INFINITY;
  return (error) => {
    const now = Date.now();
    if (now - loggedAt < 10_000) return;
    loggedAt = now;
    logger.error({ err: error }, 'rate limiter unavailable: requests are let through unlimited');
  };
}

/**
 * Takes one request from the budget, or throws RATE_LIMITED (HTTP 429 with Retry-After in
 * seconds). When the limiter itself fails (Redis unreachable), the request goes through and the
 * failure is reported: an outage of the counters must not take the API down with it.
 */
export async function spend(
  limiter: RateLimiter,
  budget: Budget,
  reportFailure: (error: unknown) => void,
): Promise<void> {
  if (budget.perMinute === 0) return;
  let waitMs: number;
  try {
    waitMs = await limiter.acquire(budget.key, budget.perMinute / 60, budget.perMinute);
  } catch (error) {
    reportFailure(error);
    return;
  }
  if (waitMs === 0) return;
  const retryAfter = Math.ceil(waitMs / 1000);
  throw new GraphQLError(`Too many requests; try again in ${retryAfter} s`, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter,
      http: { status: 429, headers: { 'retry-after': String(retryAfter) } },
    },
  });
}
