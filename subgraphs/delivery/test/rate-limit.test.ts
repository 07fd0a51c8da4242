// The token buckets against a real Redis (REDIS_URL, default redis://127.0.0.1:6379).
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { testServices } from '@mauntic/platform/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  type EmailMessage,
  type Provider,
  ProviderError,
  type RateLimiter,
  takeTokens,
  withRateLimit,
} from '../src/providers/index.ts';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testServices.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
});
afterAll(async () => {
  await redis.quit();
});

/** Takers loop on the bucket for `durationMs`; returns the times (ms from start) of every grant. */
async function hammer(
  limiters: RateLimiter[],
  key: string,
  rate: number,
  burst: number,
  durationMs: number,
): Promise<number[]> {
  const start = performance.now();
  const grants: number[] = [];
  await Promise.all(
    limiters.map(async (limiter) => {
      for (;;) {
        const wait = await limiter.acquire(key, rate, burst);
        const at = performance.now() - start;
        if (at >= durationMs) return;
        if (wait === 0) grants.push(at);
        else await sleep(Math.min(wait, durationMs - at));
      }
    }),
  );
  return grants.sort((a, b) => a - b);
}

function expectWithinBudget(grants: number[], rate: number, burst: number, durationMs: number): void {
  // Never more than the burst plus what the elapsed time refilled (one token of slack for the
  // client-side clock not matching Redis's), over the whole run and over every window inside it.
  expect(grants.length).toBeLessThanOrEqual(burst + Math.ceil((rate * durationMs) / 1000) + 1);
  for (let i = 0; i < grants.length; i += 1) {
    for (let j = i + burst + 1; j < grants.length; j += 1) {
      const window = grants[j]! - grants[i]!;
      const allowed = burst + (rate * window) / 1000 + 1;
      expect(j - i + 1, `grants ${i}..${j} within ${window.toFixed(1)} ms`).toBeLessThanOrEqual(Math.ceil(allowed));
    }
  }
  // And the limiter is not stingier than the rate either.
  expect(grants.length).toBeGreaterThanOrEqual(Math.floor(burst + (rate * durationMs) / 1000) * 0.85);
}

describe('redis token bucket', () => {
  it('holds 50/s for 2 s across four concurrent takers on separate connections', async () => {
    const connections = Array.from({ length: 4 }, () => new Redis(testServices.redisUrl));
    try {
      const limiters = connections.map((c) => createRedisRateLimiter(c));
      const key = `test:${randomUUID()}`;
      const grants = await hammer(limiters, key, 50, 10, 2_000);
      expectWithinBudget(grants, 50, 10, 2_000);
    } finally {
      await Promise.all(connections.map((c) => c.quit()));
    }
  });

  it('answers how long to wait and takes nothing when it says no', async () => {
    const limiter = createRedisRateLimiter(redis);
    const key = `test:${randomUUID()}`;
    // Emptied, the bucket needs 200 ms for 2 tokens at 10/s, less what refilled since: bounds
    // measured from the time that really passed, so a busy machine does not fail it.
    const emptied = Date.now();
    expect(await limiter.acquire(key, 10, 5, 5)).toBe(0);
    const wait = await limiter.acquire(key, 10, 5, 2);
    expect(wait).toBeLessThanOrEqual(200);
    expect(wait).toBeGreaterThanOrEqual(200 - (Date.now() - emptied) - 1);
    // Asking again still needs what was left: the refusal took no tokens (had it taken two, the
    // wait would have grown by 200 ms).
    const again = await limiter.acquire(key, 10, 5, 2);
    expect(again).toBeLessThanOrEqual(wait);
    expect(again).toBeGreaterThanOrEqual(200 - (Date.now() - emptied) - 1);
    await sleep(again + 20);
    expect(await limiter.acquire(key, 10, 5, 2)).toBe(0);
  });

  it('keeps separate buckets per key and lets idle buckets expire', async () => {
    const limiter = createRedisRateLimiter(redis, { prefix: 'test:rl:' });
    const a = randomUUID();
    const b = randomUUID();
    expect(await limiter.acquire(a, 1, 1)).toBe(0);
    expect(await limiter.acquire(a, 1, 1)).toBeGreaterThan(0);
    expect(await limiter.acquire(b, 1, 1)).toBe(0);
    const ttl = await redis.pttl(`test:rl:${a}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2_000);
  });

  it('refuses requests it can never grant', async () => {
    const limiter = createRedisRateLimiter(redis);
    await expect(limiter.acquire('x', 10, 5, 6)).rejects.toThrow(RangeError);
    await expect(limiter.acquire('x', 0, 5)).rejects.toThrow(RangeError);
  });
});

describe('in-process token bucket', () => {
  it('holds 50/s for 2 s across four concurrent takers', async () => {
    const limiter = createMemoryRateLimiter();
    const grants = await hammer([limiter, limiter, limiter, limiter], 'k', 50, 10, 2_000);
    expectWithinBudget(grants, 50, 10, 2_000);
  });

  it('refills with time', async () => {
    let now = 0;
    const limiter = createMemoryRateLimiter(() => now);
    expect(await limiter.acquire('k', 2, 2)).toBe(0);
    expect(await limiter.acquire('k', 2, 2)).toBe(0);
    expect(await limiter.acquire('k', 2, 2)).toBe(500);
    now = 499;
    expect(await limiter.acquire('k', 2, 2)).toBe(1);
    now = 500;
    expect(await limiter.acquire('k', 2, 2)).toBe(0);
  });
});

describe('rate-limited provider', () => {
  function recorder(): Provider<EmailMessage> & { sentAt: number[] } {
    const sentAt: number[] = [];
    return {
      kind: 'local_outbox',
      sentAt,
      async send(_message, options) {
        options?.onHandedOver?.();
        sentAt.push(performance.now());
        return { providerMessageId: null };
      },
      async close() {},
    };
  }
  const message = { messageId: 'm' } as EmailMessage;

  it('spaces sends to the provider limit', async () => {
    const inner = recorder();
    const provider = withRateLimit(inner, createRedisRateLimiter(redis), {
      key: `test:${randomUUID()}`,
      ratePerSecond: 20,
      burst: 2,
    });
    const start = performance.now();
    const handedOverAt: number[] = [];
    await Promise.all(
      Array.from({ length: 8 }, () =>
        provider.send(message, { onHandedOver: () => handedOverAt.push(performance.now() - start) }),
      ),
    );
    // 2 from the burst, then 6 more at 20/s: at least 300 ms.
    expect(performance.now() - start).toBeGreaterThanOrEqual(280);
    expect(inner.sentAt).toHaveLength(8);
    // The hand-over is reported after the wait, not when the send was asked for.
    expect(Math.max(...handedOverAt)).toBeGreaterThanOrEqual(280);
  });

  it('gives up with a retryable rate_limited error instead of waiting past maxWaitMs', async () => {
    const limiter = createMemoryRateLimiter();
    const limit = { key: 'slow', ratePerSecond: 1, burst: 1, maxWaitMs: 100 };
    await takeTokens(limiter, limit);
    const error = await takeTokens(limiter, limit).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ retryable: true, code: 'rate_limited' });
  });
});
