// What every JobQueue adapter must do (src/jobs/job-queue.ts). Each adapter's test file runs this
// suite with a harness that builds a fresh, unstarted queue for every test, since definitions
// can only be registered before start(). Job names carry a random suffix so no two tests (or test
// runs against the same Redis) share a queue.
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { defineJob, type JobDefinition, type JobInfo, type JobQueue } from '../../src/jobs/job-queue.ts';
import { metrics } from '../../src/metrics.ts';

export interface JobQueueHarness {
  queue: JobQueue;
  close(): Promise<void>;
}

const payloadSchema = z.object({ n: z.number() });
type Payload = z.infer<typeof payloadSchema>;

interface Run {
  payload: Payload;
  info: JobInfo;
  at: number;
}

const unique = (name: string): string => `${name}-${randomUUID().slice(0, 8)}`;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const eventually = (assertion: () => void, timeout = 5000) => vi.waitFor(assertion, { timeout, interval: 10 });

/** The mauntic_jobs_total counts of one job, by outcome. */
async function outcomes(job: string): Promise<Record<string, number>> {
  const { values } = await metrics.jobs.get();
  return Object.fromEntries(
    values.filter((value) => value.labels.job === job).map((value) => [value.labels.outcome, value.value]),
  );
}

/** A job that records each run, then does what `behave` says (by default: succeeds at once). */
function recordingJob(
  options: Partial<Omit<JobDefinition<Payload>, 'handle'>> & { behave?: (run: Run) => Promise<void> } = {},
): { job: JobDefinition<Payload>; runs: Run[] } {
  const { behave, ...definition } = options;
  const runs: Run[] = [];
  const job = defineJob<Payload>({
    name: unique('job'),
    schema: payloadSchema,
    backoffMs: 20,
    ...definition,
    async handle(payload, info) {
      const run = { payload, info, at: Date.now() };
      runs.push(run);
      await behave?.(run);
    },
  });
  return { job, runs };
}

export function jobQueueContract(name: string, harness: () => Promise<JobQueueHarness>): void {
  describe(`JobQueue contract: ${name}`, () => {
    let queue: JobQueue;
    let close: () => Promise<void>;

    beforeEach(async () => {
      ({ queue, close } = await harness());
    });
    afterEach(async () => {
      await close();
    });

    it('runs a job with its payload, as attempt 1 under the id enqueue returned', async () => {
      const { job, runs } = recordingJob();
      queue.register(job);
      await queue.start();

      const { id } = await queue.enqueue(job, { n: 1 });

      await eventually(() => expect(runs).toHaveLength(1));
      expect(runs[0]).toMatchObject({ payload: { n: 1 }, info: { id, attempt: 1 } });
      await eventually(async () => expect(await outcomes(job.name)).toEqual({ ok: 1 }));
    });

    it('runs jobs enqueued before start() once it starts', async () => {
      const { job, runs } = recordingJob();
      queue.register(job);

      await queue.enqueue(job, { n: 1 });
      await sleep(150);
      expect(runs).toHaveLength(0);
      await queue.start();

      await eventually(() => expect(runs.map((run) => run.payload)).toEqual([{ n: 1 }]));
    });

    it('rejects an invalid payload on enqueue with the schema error, and queues nothing', async () => {
      // The worker side accepts anything, so an invalid payload that slipped into the queue would run.
      const { job: lenient, runs } = recordingJob({ schema: z.object({ n: z.unknown() }) as z.ZodType<Payload> });
      const strict: JobDefinition<Payload> = { ...lenient, schema: payloadSchema };
      queue.register(lenient);
      await queue.start();

      await expect(queue.enqueue(strict, { n: 'one' } as unknown as Payload)).rejects.toBeInstanceOf(z.ZodError);
      await queue.enqueue(strict, { n: 2 });

      // One at a time, in order: had the invalid job been queued, it would have run first.
      await eventually(() => expect(runs).toHaveLength(1));
      await sleep(100);
      expect(runs.map((run) => run.payload)).toEqual([{ n: 2 }]);
    });

    it('fails a payload that no longer matches the registered schema once, without retries', async () => {
      const checked: unknown[] = [];
      const { job: registered, runs } = recordingJob({
        attempts: 3,
        schema: z.preprocess((value) => {
          checked.push(value);
          return value;
        }, payloadSchema),
      });
      // An older producer, from before the schema changed.
      const producer: JobDefinition<Payload> = {
        ...registered,
        schema: z.object({ n: z.unknown() }) as z.ZodType<Payload>,
      };
      queue.register(registered);
      await queue.start();

      await queue.enqueue(producer, { n: 'one' } as unknown as Payload);

      await eventually(() => expect(checked).toHaveLength(1));
      await sleep(300); // retries would come after 20 and 40 ms
      expect(checked).toHaveLength(1);
      expect(runs).toHaveLength(0);
      expect(await outcomes(registered.name)).toEqual({ failed: 1 });
    });

    it('hands the handler its payload as JSON would carry it', async () => {
      const schema = z.object({ at: z.union([z.date(), z.string()]) });
      const received: unknown[] = [];
      const job = defineJob({
        name: unique('json'),
        schema,
        handle: async (payload) => {
          received.push(payload.at);
        },
      });
      queue.register(job);
      await queue.start();

      await queue.enqueue(job, { at: new Date('2030-01-02T03:04:05.000Z') });

      await eventually(() => expect(received).toEqual(['2030-01-02T03:04:05.000Z']));
    });

    it('does not run a delayed job before its delay, and runs it soon after', async () => {
      const { job, runs } = recordingJob();
      queue.register(job);
      await queue.start();

      const enqueuedAt = Date.now();
      await queue.enqueue(job, { n: 1 }, { delayMs: 300 });
      await sleep(200);
      expect(runs).toHaveLength(0);

      await eventually(() => expect(runs).toHaveLength(1));
      const waited = runs[0]!.at - enqueuedAt;
      expect(waited).toBeGreaterThanOrEqual(298); // clock rounding, nothing more
      expect(waited).toBeLessThan(1300);
    });

    it('retries a failing job with exponentially growing gaps until it succeeds', async () => {
      const { job, runs } = recordingJob({
        attempts: 3,
        backoffMs: 150,
        behave: async (run) => {
          if (run.info.attempt < 3) throw new Error(`attempt ${run.info.attempt} fails`);
        },
      });
      queue.register(job);
      await queue.start();

      const { id } = await queue.enqueue(job, { n: 1 });

      await eventually(() => expect(runs).toHaveLength(3));
      expect(runs.map((run) => run.info)).toEqual([1, 2, 3].map((attempt) => ({ id, attempt })));
      const [first, second, third] = runs.map((run) => run.at) as [number, number, number];
      // backoffMs * 2^(attempt - 1): 150 ms, then 300 ms.
      expect(second - first).toBeGreaterThanOrEqual(148);
      expect(third - second).toBeGreaterThanOrEqual(298);
      expect(third - second).toBeGreaterThan(second - first);
      expect(third - second).toBeLessThan(1500);
      await eventually(async () => expect(await outcomes(job.name)).toEqual({ retried: 2, ok: 1 }));
      await sleep(200);
      expect(runs).toHaveLength(3);
    });

    it('gives up on a job that always fails after `attempts` tries', async () => {
      const { job, runs } = recordingJob({
        attempts: 3,
        behave: async () => {
          throw new Error('always fails');
        },
      });
      queue.register(job);
      await queue.start();

      await queue.enqueue(job, { n: 1 });

      await eventually(() => expect(runs).toHaveLength(3));
      await sleep(300); // a fourth try would come 80 ms after the third
      expect(runs.map((run) => run.info.attempt)).toEqual([1, 2, 3]);
      expect(await outcomes(job.name)).toEqual({ retried: 2, failed: 1 });
    });

    it('runs a jobId once when it is enqueued again while delayed and after it completed', async () => {
      const { job, runs } = recordingJob();
      queue.register(job);
      await queue.start();
      // ':' and digits-only ids are natural keys that BullMQ refuses as they are.
      const jobId = 'contact:42';

      expect(await queue.enqueue(job, { n: 1 }, { jobId, delayMs: 200 })).toEqual({ id: jobId });
      expect(await queue.enqueue(job, { n: 2 }, { jobId, delayMs: 200 })).toEqual({ id: jobId });
      await eventually(() => expect(runs).toHaveLength(1));
      await sleep(100); // let it be recorded as completed
      expect(await queue.enqueue(job, { n: 3 }, { jobId })).toEqual({ id: jobId });
      await queue.enqueue(job, { n: 4 }, { jobId: '42' });

      // One at a time, in order: a second run of contact:42 would come before the run of 42.
      await eventually(() => expect(runs).toHaveLength(2));
      await sleep(100);
      expect(runs.map((run) => [run.info.id, run.payload])).toEqual([
        [jobId, { n: 1 }],
        ['42', { n: 4 }],
      ]);
    });

    it('runs a jobId once when it is enqueued again while it runs', async () => {
      let release = (): void => {};
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const { job, runs } = recordingJob({ behave: (run) => (run.payload.n === 1 ? released : Promise.resolve()) });
      queue.register(job);
      await queue.start();

      await queue.enqueue(job, { n: 1 }, { jobId: 'busy' });
      await eventually(() => expect(runs).toHaveLength(1));
      await queue.enqueue(job, { n: 2 }, { jobId: 'busy' });
      release();
      await queue.enqueue(job, { n: 3 }, { jobId: 'other' });

      await eventually(() => expect(runs).toHaveLength(2));
      await sleep(100);
      expect(runs.map((run) => run.payload)).toEqual([{ n: 1 }, { n: 3 }]);
    });

    it('runs no more than `concurrency` jobs of a definition at once, and does use them all', async () => {
      let inFlight = 0;
      let mostInFlight = 0;
      let done = 0;
      const { job } = recordingJob({
        concurrency: 2,
        behave: async () => {
          inFlight += 1;
          mostInFlight = Math.max(mostInFlight, inFlight);
          await sleep(100);
          inFlight -= 1;
          done += 1;
        },
      });
      queue.register(job);
      await queue.start();

      for (let n = 0; n < 6; n += 1) await queue.enqueue(job, { n });

      await eventually(() => expect(done).toBe(6));
      expect(mostInFlight).toBe(2);
    });

    it('lets a running job finish before stop() resolves', async () => {
      let finished = false;
      const { job, runs } = recordingJob({
        behave: async () => {
          await sleep(300);
          finished = true;
        },
      });
      queue.register(job);
      await queue.start();
      await queue.enqueue(job, { n: 1 });
      await eventually(() => expect(runs).toHaveLength(1));

      await queue.stop();

      expect(finished).toBe(true);
    });
  });
}
