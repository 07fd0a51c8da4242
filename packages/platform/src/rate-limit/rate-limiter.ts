// Token buckets: in Redis (one atomic Lua script, so every process shares one budget) or in this
// process's memory when there is no Redis. Both take from the bucket only when enough tokens are
// there, so a caller that gives up never leaves a debt behind.
import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

export interface RateLimiter {
  /**
   * Takes `n` tokens from the bucket `key` (refilled at `ratePerSecond`, holding at most `burst`).
   * Returns 0 when they were taken; otherwise takes nothing and returns the milliseconds after
   * which asking again can succeed.
   */
  acquire(key: string, ratePerSecond: number, burst: number, n?: number): Promise<number>;
}

function validate(ratePerSecond: number, burst: number, n: number): void {
  if (!(ratePerSecond > 0)) throw new RangeError('ratePerSecond must be positive');
  if (!(burst >= 1)) throw new RangeError('burst must be at least 1');
  if (!(n >= 1) || n > burst) throw new RangeError('n must be between 1 and burst');
}

// Time comes from the Redis server so processes with skewed clocks share one timeline.
// Numbers are formatted explicitly: Lua's default "%.14g" would round microsecond timestamps.
const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate / 1000000)
end
local wait = 0
if tokens >= n then
  tokens = tokens - n
else
  wait = math.max(1, math.ceil((n - tokens) * 1000 / rate - 1e-6))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.0f', math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
`;

type WithTokenBucket = Redis & {
  maunticTokenBucket(key: string, rate: number, burst: number, n: number): Promise<number>;
};

/** One round trip a call. `prefix` namespaces the keys, so several deployments can share one Redis. */
export function createRedisRateLimiter(redis: Redis, options: { prefix: string }): RateLimiter {
  redis.defineCommand('maunticTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  const client = redis as WithTokenBucket;
  return {
    async acquire(key, ratePerSecond, burst, n = 1) {
      validate(ratePerSecond, burst, n);
      return Number(await client.maunticTokenBucket(options.prefix + key, ratePerSecond, burst, n));
    },
  };
}

interface Bucket {
  tokens: number;
  ts: number;
  /** When the bucket is full again if nobody takes from it: from then on it is as good as absent. */
  fullAt: number;
}

/** Kept buckets before the first sweep of full ones; after a sweep, twice what is left. */
const SWEEP_AT = 10_000;

export interface MemoryRateLimiter extends RateLimiter {
  /** Buckets held: at most those still refilling, plus what arrived since the last sweep. */
  readonly size: number;
}

/** Same buckets in this process's memory (the embedded mode has no Redis). */
export function createMemoryRateLimiter(now: () => number = () => performance.now()): MemoryRateLimiter {
  const buckets = new Map<string, Bucket>();
  let sweepAt = SWEEP_AT;
  // A bucket that has refilled holds nothing worth keeping: drop those once the map grows, so
  // callers cycling through keys (client addresses) cannot grow it without bound.
  const sweep = (at: number) => {
    for (const [key, bucket] of buckets) if (bucket.fullAt <= at) buckets.delete(key);
    sweepAt = Math.max(SWEEP_AT, buckets.size * 2);
  };
  return {
    get size() {
      return buckets.size;
    },
    async acquire(key, ratePerSecond, burst, n = 1) {
      validate(ratePerSecond, burst, n);
      const at = now();
      if (buckets.size >= sweepAt) sweep(at);
      const bucket = buckets.get(key) ?? { tokens: burst, ts: at, fullAt: at };
      if (at > bucket.ts) bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.ts) * ratePerSecond) / 1000);
      bucket.ts = Math.max(at, bucket.ts);
      buckets.set(key, bucket);
      let wait = 0;
      if (bucket.tokens >= n) bucket.tokens -= n;
      // The epsilon keeps float noise (1.0000000001 ms) from rounding a wait up by a whole ms.
      else wait = Math.max(1, Math.ceil(((n - bucket.tokens) * 1000) / ratePerSecond - 1e-6));
      bucket.fullAt = bucket.ts + ((burst - bucket.tokens) * 1000) / ratePerSecond;
      return wait;
    },
  };
}

export interface OpenRateLimiter {
  limiter: RateLimiter;
  close(): Promise<void>;
}

/** Connection states in which Redis is known to be away. */
const DISCONNECTED = new Set(['reconnecting', 'close', 'end']);

/**
 * A limiter for a request path: on Redis when `redisUrl` is set (every replica shares the budget),
 * else in memory. While Redis is known to be away a call fails at once, and while it is slow (or
 * a connection attempt hangs) after `timeoutMs`, instead of holding the request until Redis is back.
 */
export function openRateLimiter(options: {
  redisUrl?: string;
  prefix: string;
  logger: Logger;
  timeoutMs?: number;
}): OpenRateLimiter {
  if (!options.redisUrl) return { limiter: createMemoryRateLimiter(), close: async () => {} };
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: options.timeoutMs ?? 500 });
  // Without a listener ioredis prints every reconnect failure to stderr as "unhandled".
  redis.on('error', (error) => options.logger.warn({ err: error }, 'rate-limit redis connection error'));
  const buckets = createRedisRateLimiter(redis, { prefix: options.prefix });
  return {
    limiter: {
      acquire: (...args) =>
        DISCONNECTED.has(redis.status)
          ? Promise.reject(new Error(`rate-limit redis is unreachable (${redis.status})`))
          : buckets.acquire(...args),
    },
    close: async () => {
      // QUIT waits for Redis to answer; while it is unreachable, just drop the connection.
      if (redis.status === 'ready') await redis.quit();
      else redis.disconnect();
    },
  };
}
