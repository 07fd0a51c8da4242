// Per-provider send rate limits on the platform's token buckets (packages/platform/src/rate-limit):
// in Redis, so every engine process shares one budget, or in process for the embedded mode.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createMemoryRateLimiter,
  createRedisRateLimiter as createPlatformRedisRateLimiter,
  type RateLimiter,
} from '@mauntic/platform';
import type { Redis } from 'ioredis';
import { type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

export { createMemoryRateLimiter, type RateLimiter };

/** Buckets shared by every engine through Redis, under delivery's own key prefix by default. */
export const createRedisRateLimiter = (redis: Redis, options: { prefix?: string } = {}): RateLimiter =>
  createPlatformRedisRateLimiter(redis, { prefix: options.prefix ?? 'mauntic:delivery:rate:' });

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
