// The in-memory JobQueue against the shared contract, plus what only it has: a retention window
// short enough to watch expire.
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineJob } from '../src/jobs/job-queue.ts';
import { LocalJobQueue } from '../src/jobs/local-job-queue.ts';
import { jobQueueContract } from './contract/job-queue.contract.ts';

jobQueueContract('local', async () => {
  const queue = new LocalJobQueue();
  return { queue, close: () => queue.stop() };
});

describe('LocalJobQueue', () => {
  it('forgets a finished jobId once its retention has passed, so the id runs again', async () => {
    const queue = new LocalJobQueue({ retentionSeconds: 0.2 });
    const runs: number[] = [];
    const job = defineJob({
      name: 'retained',
      schema: z.object({ n: z.number() }),
      handle: async ({ n }) => {
        runs.push(n);
      },
    });
    queue.register(job);
    await queue.start();
    try {
      await queue.enqueue(job, { n: 1 }, { jobId: 'once' });
      await vi.waitFor(() => expect(runs).toEqual([1]), { interval: 10 });
      await queue.enqueue(job, { n: 2 }, { jobId: 'once' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await queue.enqueue(job, { n: 3 }, { jobId: 'once' });

      await vi.waitFor(() => expect(runs).toEqual([1, 3]), { interval: 10 });
    } finally {
      await queue.stop();
    }
  });

  it('refuses a job no registered definition would run', async () => {
    const queue = new LocalJobQueue();
    const job = defineJob({ name: 'unregistered', schema: z.object({}), handle: async () => {} });
    await queue.start();

    await expect(queue.enqueue(job, {})).rejects.toThrow('job unregistered is not registered');
    await queue.stop();
  });

  it('runs nothing after stop(): neither delayed jobs nor pending retries', async () => {
    const queue = new LocalJobQueue();
    const runs: number[] = [];
    const job = defineJob({
      name: 'cancelled',
      schema: z.object({ n: z.number() }),
      backoffMs: 100,
      handle: async ({ n }) => {
        runs.push(n);
        throw new Error('fails, so it would be retried');
      },
    });
    queue.register(job);
    await queue.start();
    await queue.enqueue(job, { n: 1 });
    await queue.enqueue(job, { n: 2 }, { delayMs: 100 });
    await vi.waitFor(() => expect(runs).toEqual([1]), { interval: 5 });

    await queue.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));

    expect(runs).toEqual([1]);
  });
});
