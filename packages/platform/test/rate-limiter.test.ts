// The token buckets: in memory, and against a real Redis (REDIS_URL, default redis://127.0.0.1:6379).
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  openRateLimiter,
  type RateLimiter,
} from '../src/rate-limit/rate-limiter.ts';
import { testServices } from '../src/testing/index.ts';

const logger = createLogger('rate-limiter-test', 'silent');
const prefix = `test:rl:${randomUUID()}:`;

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testServices.redisUrl, { maxRetriesPerRequest: 2 });
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
      const limiters = connections.map((c) => createRedisRateLimiter(c, { prefix }));
      const grants = await hammer(limiters, randomUUID(), 50, 10, 2_000);
      expectWithinBudget(grants, 50, 10, 2_000);
    } finally {
      await Promise.all(connections.map((c) => c.quit()));
    }
  });

  it('answers how long to wait and takes nothing when it says no', async () => {
    const limiter = createRedisRateLimiter(redis, { prefix });
    const key = randomUUID();
    expect(await limiter.acquire(key, 10, 5, 5)).toBe(0);
    const wait = await limiter.acquire(key, 10, 5, 2);
    expect(wait).toBeGreaterThan(150);
    expect(wait).toBeLessThanOrEqual(200);
    // Asking again right away still needs about as long: the refusal took no tokens.
    expect(await limiter.acquire(key, 10, 5, 2)).toBeGreaterThan(150);
    await sleep(wait + 20);
    expect(await limiter.acquire(key, 10, 5, 2)).toBe(0);
  });

  it('keeps separate buckets per key under its prefix, and lets idle buckets expire', async () => {
    const limiter = createRedisRateLimiter(redis, { prefix });
    const other = createRedisRateLimiter(redis, { prefix: `${prefix}other:` });
    const a = randomUUID();
    const b = randomUUID();
    expect(await limiter.acquire(a, 1, 1)).toBe(0);
    expect(await limiter.acquire(a, 1, 1)).toBeGreaterThan(0);
    expect(await limiter.acquire(b, 1, 1)).toBe(0);
    // Another prefix (another deployment sharing the Redis) has its own budget for the same key.
    expect(await other.acquire(a, 1, 1)).toBe(0);
    const ttl = await redis.pttl(`${prefix}${a}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(2_000);
  });

  it('refuses requests it can never grant', async () => {
    const limiter = createRedisRateLimiter(redis, { prefix });
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

  it('forgets buckets that have refilled, so callers cycling through keys cannot grow it without bound', async () => {
    let now = 0;
    const limiter = createMemoryRateLimiter(() => now);
    await limiter.acquire('drained', 1, 10, 10);
    for (let i = 1; i < 10_000; i++) await limiter.acquire(`addr-${i}`, 1, 10);
    expect(limiter.size).toBe(10_000);
    // One second on, every bucket but the drained one has its token back: the next call sweeps them.
    now = 1_000;
    await limiter.acquire('next', 1, 10);
    expect(limiter.size).toBe(2);
    // The bucket still refilling kept its debt: 1 of 10 tokens back.
    expect(await limiter.acquire('drained', 1, 10, 2)).toBe(1_000);
  });
});

describe('openRateLimiter', () => {
  it('shares one budget between replicas through Redis', async () => {
    const a = openRateLimiter({ redisUrl: testServices.redisUrl, prefix, logger });
    const b = openRateLimiter({ redisUrl: testServices.redisUrl, prefix, logger });
    try {
      const key = randomUUID();
      expect(await a.limiter.acquire(key, 1, 2)).toBe(0);
      expect(await b.limiter.acquire(key, 1, 2)).toBe(0);
      expect(await a.limiter.acquire(key, 1, 2)).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('fails calls while Redis is unreachable instead of holding them: at once when it is known to be down', async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const open = openRateLimiter({ redisUrl: `redis://127.0.0.1:${port}`, prefix, logger });
    try {
      let started = performance.now();
      await expect(open.limiter.acquire('k', 1, 1)).rejects.toThrow();
      expect(performance.now() - started).toBeLessThan(1_000);
      // Once the connection is known to be down, calls fail without waiting at all.
      started = performance.now();
      await expect(open.limiter.acquire('k', 1, 1)).rejects.toThrow(/unreachable/);
      expect(performance.now() - started).toBeLessThan(50);
    } finally {
      await open.close();
    }
  });

  it('keeps buckets in memory without a Redis URL', async () => {
    const open = openRateLimiter({ prefix, logger });
    expect(await open.limiter.acquire('k', 1, 1)).toBe(0);
    expect(await open.limiter.acquire('k', 1, 1)).toBe(1_000);
    await open.close();
  });
});
