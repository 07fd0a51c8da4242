// The BullMQ JobQueue against the shared contract on the real Redis, plus what only it has:
// jobs that outlive the process. Every run uses its own key prefix and deletes its keys after.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { parseEnvironment, queueModel } from '../src/config.ts';
import { BullMqJobQueue } from '../src/jobs/bullmq-job-queue.ts';
import { defineJob } from '../src/jobs/job-queue.ts';
import { createLogger } from '../src/logger.ts';
import { registry } from '../src/metrics.ts';
import { createQueue } from '../src/runtime.ts';
import { testServices } from '../src/testing/index.ts';
import { jobQueueContract } from './contract/job-queue.contract.ts';

const { redisUrl } = testServices;
const prefix = `test-jobs-${randomUUID().slice(0, 8)}`;

afterAll(async () => {
  const redis = new Redis(redisUrl);
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}:*`, count: 500 })) keys.push(...(batch as string[]));
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
});

jobQueueContract('bullmq', async () => {
  const queue = new BullMqJobQueue({ redisUrl, prefix });
  return { queue, close: () => queue.stop() };
});

describe('BullMqJobQueue', () => {
  it('keeps its keys under REDIS_KEY_PREFIX, so deployments sharing a Redis keep their jobs apart', async () => {
    const { queue: env } = parseEnvironment({ queue: queueModel }, { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix });
    const name = `prefixed-${randomUUID().slice(0, 8)}`;
    const done: number[] = [];
    const job = defineJob({ name, schema: z.object({ n: z.number() }), handle: async ({ n }) => void done.push(n) });
    const queue = createQueue(env, createLogger('jobs', 'silent'));
    queue.register(job);
    await queue.start();
    const redis = new Redis(redisUrl);
    try {
      await queue.enqueue(job, { n: 1 });
      await vi.waitFor(() => expect(done).toEqual([1]), { timeout: 5000, interval: 10 });
      const keys = async (match: string) => {
        const found: string[] = [];
        for await (const batch of redis.scanStream({ match, count: 500 })) found.push(...(batch as string[]));
        return found;
      };
      expect(await keys(`${prefix}:${name}:*`)).not.toEqual([]);
      expect(await keys(`mauntic:${name}:*`)).toEqual([]);
    } finally {
      await queue.stop();
      await redis.quit();
    }
  });

  it('runs a delayed job after every worker that saw it enqueued has stopped', async () => {
    const runs: Array<{ n: number; at: number }> = [];
    const job = defineJob({
      name: `restart-${randomUUID().slice(0, 8)}`,
      schema: z.object({ n: z.number() }),
      handle: async ({ n }) => {
        runs.push({ n, at: Date.now() });
      },
    });
    const before = new BullMqJobQueue({ redisUrl, prefix });
    before.register(job);
    await before.start();
    const enqueuedAt = Date.now();
    await before.enqueue(job, { n: 7 }, { delayMs: 600 });
    await before.stop();
    expect(Date.now() - enqueuedAt).toBeLessThan(600); // stopped before the job was due

    const after = new BullMqJobQueue({ redisUrl, prefix });
    after.register(job);
    await after.start();
    try {
      await vi.waitFor(() => expect(runs).toHaveLength(1), { timeout: 5000, interval: 10 });
      expect(runs[0]!.n).toBe(7);
      expect(runs[0]!.at - enqueuedAt).toBeGreaterThanOrEqual(598);
    } finally {
      await after.stop();
    }
  });

  it("reports each queue's depth at /metrics: waiting, delayed and active jobs, as they change", async () => {
    const name = `depth-${randomUUID().slice(0, 8)}`;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const done: number[] = [];
    const job = defineJob({
      name,
      schema: z.object({ n: z.number() }),
      handle: async ({ n }) => {
        await held;
        done.push(n);
      },
    });
    const depth = async () => {
      const { values } = await registry.getSingleMetric('mauntic_job_queue_depth')!.get();
      const of = (state: string) => values.find((v) => v.labels.queue === name && v.labels.state === state)?.value;
      return { waiting: of('waiting'), delayed: of('delayed'), active: of('active') };
    };
    // A producer that runs no worker reports the queue it feeds.
    const producer = new BullMqJobQueue({ redisUrl, prefix });
    const worker = new BullMqJobQueue({ redisUrl, prefix });
    try {
      for (const n of [1, 2, 3]) await producer.enqueue(job, { n });
      await producer.enqueue(job, { n: 4 }, { delayMs: 60_000 });
      expect(await depth()).toEqual({ waiting: 3, delayed: 1, active: 0 });

      worker.register(job);
      await worker.start();
      await vi.waitFor(async () => expect(await depth()).toEqual({ waiting: 2, delayed: 1, active: 1 }), {
        timeout: 5000,
        interval: 20,
      });
      release();
      await vi.waitFor(() => expect(done).toEqual([1, 2, 3]), { timeout: 5000, interval: 10 });
      await vi.waitFor(async () => expect(await depth()).toEqual({ waiting: 0, delayed: 1, active: 0 }), {
        timeout: 5000,
        interval: 20,
      });
    } finally {
      release();
      await Promise.all([producer.stop(), worker.stop()]);
    }
    // A stopped queue no longer reports.
    expect(await depth()).toEqual({ waiting: undefined, delayed: undefined, active: undefined });
  });

  it('answers ping() while Redis is reachable and fails it promptly when it is not', async () => {
    const reachable = new BullMqJobQueue({ redisUrl, prefix });
    const unreachable = new BullMqJobQueue({ redisUrl: 'redis://127.0.0.1:1', prefix });
    try {
      await expect(reachable.ping()).resolves.toBeUndefined();
      await expect(unreachable.ping()).rejects.toThrow('redis did not answer PING');
    } finally {
      await Promise.all([reachable.stop(), unreachable.stop()]);
    }
  });
});
