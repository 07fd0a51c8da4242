// Per-provider send rate limits as token buckets: in Redis (one atomic Lua script, so every engine
// process shares one budget) or in process for the embedded mode. Both take from the bucket only
// when enough tokens are there, so a caller that gives up never leaves a debt behind.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

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

// Time comes from the Redis server so engine processes with skewed clocks share one timeline.
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

export function createRedisRateLimiter(redis: Redis, options: { prefix?: string } = {}): RateLimiter {
  const prefix = options.prefix ?? 'mauntic:delivery:rate:';
  redis.defineCommand('maunticTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  const client = redis as WithTokenBucket;
  return {
    async acquire(key, ratePerSecond, burst, n = 1) {
      validate(ratePerSecond, burst, n);
      return Number(await client.maunticTokenBucket(prefix + key, ratePerSecond, burst, n));
    },
  };
}

/** Same buckets in this process's memory: the embedded mode has no Redis. */
export function createMemoryRateLimiter(now: () => number = () => performance.now()): RateLimiter {
  const buckets = new Map<string, { tokens: number; ts: number }>();
  return {
    async acquire(key, ratePerSecond, burst, n = 1) {
      validate(ratePerSecond, burst, n);
      const at = now();
      const bucket = buckets.get(key) ?? { tokens: burst, ts: at };
      if (at > bucket.ts) bucket.tokens = Math.min(burst, bucket.tokens + ((at - bucket.ts) * ratePerSecond) / 1000);
      bucket.ts = Math.max(at, bucket.ts);
      buckets.set(key, bucket);
      if (bucket.tokens >= n) {
        bucket.tokens -= n;
        return 0;
      }
      // The epsilon keeps float noise (1.0000000001 ms) from rounding a wait up by a whole ms.
      return Math.max(1, Math.ceil(((n - bucket.tokens) * 1000) / ratePerSecond - 1e-6));
    },
  };
}

export interface RateLimit {
  /** Bucket name, e.g. the provider row's id. */
  key: string;
  ratePerSecond: number;
  burst: number;
  /** Give up (retryable `rate_limited` error) rather than wait longer than this. Default 30 s. */
  maxWaitMs?: number;
}

/** Waits until the bucket grants `n` tokens, or throws a retryable ProviderError after maxWaitMs. */
export async function takeTokens(limiter: RateLimiter, limit: RateLimit, n = 1): Promise<void> {
  const deadline = Date.now() + (limit.maxWaitMs ?? 30_000);
  for (;;) {
    const wait = await limiter.acquire(limit.key, limit.ratePerSecond, limit.burst, n);
    if (wait === 0) return;
    if (Date.now() + wait > deadline) {
      throw new ProviderError(
        `rate limit ${limit.key}: no capacity within ${limit.maxWaitMs ?? 30_000} ms`,
        true,
        'rate_limited',
      );
    }
    await sleep(wait);
  }
}

/** A provider that sends no faster than its limit. */
export function withRateLimit<M>(provider: Provider<M>, limiter: RateLimiter, limit: RateLimit): Provider<M> {
  return {
    kind: provider.kind,
    async send(message: M, options?: SendOptions): Promise<SendResult> {
      await takeTokens(limiter, limit);
      return provider.send(message, options);
    },
    close: () => provider.close(),
  };
}
