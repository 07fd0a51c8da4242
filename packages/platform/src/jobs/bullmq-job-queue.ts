// The JobQueue port on BullMQ and Redis (cluster mode): one BullMQ queue and one worker per job
// definition, the queue named after the definition.
//
// What it adds to the port's guarantees (see job-queue.ts):
// - durable while Redis is: waiting, delayed and retrying jobs survive a restart of every worker;
// - at-least-once: a job whose process dies mid-run is taken up again once its lock expires
//   (BullMQ's stalled-job check), so handlers must be idempotent;
// - deduplication keeps working while a job exists in Redis: waiting, delayed, active, completed
//   (kept JOB_RETENTION_SECONDS, then removed lazily, when a later job of the queue completes, so
//   possibly longer) or failed (kept FAILED_RETENTION_SECONDS);
// - waiting jobs start in FIFO order, but retries and concurrency > 1 reorder them: no ordering is
//   promised to callers.
import { type Job, type Processor, Queue, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { createLogger, type Logger } from '../logger.ts';
import { metrics, registry } from '../metrics.ts';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_CONCURRENCY,
  type EnqueueOptions,
  JOB_RETENTION_SECONDS,
  type JobDefinition,
  type JobQueue,
} from './job-queue.ts';

export interface BullMqJobQueueOptions {
  redisUrl: string;
  /** Namespaces every Redis key, so several deployments (or test runs) can share one Redis. */
  prefix?: string;
  logger?: Logger;
}

/** Failed jobs stay for a week so an operator can inspect and retry them. */
const FAILED_RETENTION_SECONDS = 7 * 24 * 3600;
const PING_TIMEOUT_MS = 2000;

// BullMQ 6 rejects custom job ids that contain ':' (unless they split into exactly three parts, a
// legacy repeatable-job format), that read as integers ("42"), or that are '0'. Callers' keys such
// as `${runId}:${stepId}` are natural here, so a caller's id is stored percent-encoded behind a
// letter: reversible, never an integer, never a ':'. BullMQ's own ids (counters) never start with
// that letter, so they cannot collide with an encoded one.
const toBullMqId = (jobId: string): string => `j${encodeURIComponent(jobId)}`;
const fromBullMqId = (id: string): string => (id.startsWith('j') ? decodeURIComponent(id.slice(1)) : id);

/** The job queues of this process that are open, for the depth gauge. */
const openQueues = new Set<BullMqJobQueue>();
const DEPTH_STATES = ['waiting', 'delayed', 'active'] as const;

// Read from Redis on each scrape (three counters per queue, one round trip): every queue this
// process runs or feeds. Processes sharing a queue report the same figure: aggregate with max().
new Gauge({
  name: 'mauntic_job_queue_depth',
  help: 'Jobs in each BullMQ queue this process runs or feeds, by state (waiting, delayed, active)',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
  async collect() {
    this.reset();
    for (const jobQueue of openQueues) {
      for (const [queue, counts] of await jobQueue.depths()) {
        for (const state of DEPTH_STATES) this.set({ queue, state }, counts[state] ?? 0);
      }
    }
  },
});

export class BullMqJobQueue implements JobQueue {
  readonly kind = 'bullmq' as const;
  private readonly prefix: string;
  private readonly logger: Logger;
  /**
   * Shared by every queue; each worker duplicates it for its own (blocking) connections, which
   * BullMQ requires to retry forever: hence maxRetriesPerRequest null.
   */
  private readonly connection: Redis;
  private readonly definitions = new Map<string, JobDefinition<any>>();
  private readonly queues = new Map<string, Queue>();
  private readonly workers: Worker[] = [];
  private started = false;
  private stopping: Promise<void> | undefined;

  constructor(options: BullMqJobQueueOptions) {
    this.prefix = options.prefix ?? 'mauntic';
    this.logger = options.logger ?? createLogger('job-queue');
    this.connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
    // Without a listener ioredis prints every reconnect failure to stderr as "unhandled".
    this.connection.on('error', (error) => this.logger.warn({ err: error }, 'redis connection error'));
    openQueues.add(this);
  }

  /**
   * Jobs waiting, delayed and active in every queue this process runs (its definitions) or enqueued
   * into; none while Redis does not answer (a scrape must not wait for it to come back).
   */
  async depths(): Promise<ReadonlyArray<readonly [string, Record<string, number>]>> {
    const names = [...new Set([...this.definitions.keys(), ...this.queues.keys()])];
    try {
      return await withTimeout(
        Promise.all(
          names.map(async (name) => [name, await this.queueFor(name).getJobCounts(...DEPTH_STATES)] as const),
        ),
        PING_TIMEOUT_MS,
        `redis did not answer queue counts within ${PING_TIMEOUT_MS} ms`,
      );
    } catch (error) {
      this.logger.warn({ err: error }, 'job queue depths unavailable');
      return [];
    }
  }

  register(definition: JobDefinition<any>): void {
    if (this.started) throw new Error(`job ${definition.name} registered after start()`);
    if (this.definitions.has(definition.name)) throw new Error(`job ${definition.name} registered twice`);
    this.definitions.set(definition.name, definition);
  }

  async enqueue<T>(definition: JobDefinition<T>, payload: T, options: EnqueueOptions = {}): Promise<{ id: string }> {
    definition.schema.parse(payload);
    // A producer need not run the worker: the definition only has to be registered where jobs run.
    const job = await this.queueFor(definition.name).add(definition.name, payload, {
      jobId: options.jobId === undefined ? undefined : toBullMqId(options.jobId),
      delay: options.delayMs,
      attempts: definition.attempts ?? DEFAULT_ATTEMPTS,
      backoff: { type: 'exponential', delay: definition.backoffMs ?? DEFAULT_BACKOFF_MS },
      removeOnComplete: { age: JOB_RETENTION_SECONDS },
      removeOnFail: { age: FAILED_RETENTION_SECONDS },
    });
    // For a duplicate, BullMQ adds nothing and answers with the id of the job already there.
    return { id: options.jobId ?? jobIdOf(job) };
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const definition of this.definitions.values()) {
      const worker = new Worker(definition.name, this.processor(definition), {
        connection: this.connection,
        prefix: this.prefix,
        concurrency: definition.concurrency ?? DEFAULT_CONCURRENCY,
      });
      worker.on('error', (error) => this.logger.error({ err: error, job: definition.name }, 'job worker error'));
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((worker) => worker.waitUntilReady()));
  }

  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  async ping(): Promise<void> {
    // Commands on this connection retry forever, so while Redis is down a PING would wait for it to
    // come back; a readiness probe needs an answer now.
    await withTimeout(
      this.connection.ping(),
      PING_TIMEOUT_MS,
      `redis did not answer PING within ${PING_TIMEOUT_MS} ms`,
    );
  }

  private async close(): Promise<void> {
    openQueues.delete(this);
    // Workers first: close() lets active jobs finish, and they may still enqueue follow-up jobs.
    await Promise.all(this.workers.map((worker) => worker.close()));
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    // QUIT waits for Redis to answer; while it is unreachable, just drop the connection.
    if (this.connection.status === 'ready') await this.connection.quit();
    else this.connection.disconnect();
  }

  private queueFor(name: string): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, { connection: this.connection, prefix: this.prefix });
      queue.on('error', (error) => this.logger.error({ err: error, job: name }, 'job queue error'));
      this.queues.set(name, queue);
    }
    return queue;
  }

  private processor(definition: JobDefinition<any>): Processor {
    return async (job: Job) => {
      const parsed = definition.schema.safeParse(job.data);
      if (!parsed.success) {
        // The payload was valid when queued, so the schema changed since: retrying cannot help.
        metrics.jobs.inc({ job: definition.name, outcome: 'failed' });
        this.logger.error(
          { job: definition.name, jobId: job.id, err: parsed.error },
          'job payload does not match its schema',
        );
        throw new UnrecoverableError(`invalid payload for job ${definition.name}: ${parsed.error.message}`);
      }
      const attempt = job.attemptsMade + 1;
      try {
        await definition.handle(parsed.data, { id: fromBullMqId(jobIdOf(job)), attempt });
      } catch (error) {
        const outcome = attempt < (job.opts.attempts ?? 1) ? 'retried' : 'failed';
        metrics.jobs.inc({ job: definition.name, outcome });
        this.logger[outcome === 'failed' ? 'error' : 'warn'](
          { job: definition.name, jobId: job.id, attempt, err: error },
          `job ${outcome}`,
        );
        throw error;
      }
      metrics.jobs.inc({ job: definition.name, outcome: 'ok' });
    };
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function jobIdOf(job: Job): string {
  // BullMQ types the id as optional because a Job object can exist before it is added.
  if (job.id === undefined) throw new Error(`BullMQ job ${job.name} has no id`);
  return job.id;
}
