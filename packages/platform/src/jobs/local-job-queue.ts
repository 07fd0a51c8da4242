// The JobQueue port in memory, for the embedded single-process mode: timers for delays and
// backoff, a concurrency limit per definition.
//
// Not durable: waiting, delayed and retrying jobs live in this process and are gone when it stops
// or dies. Embedded mode can afford that because anything that must outlive a restart (a journey
// step that waits 30 days) is kept in Postgres with a due time; this queue only carries short
// timers and retries (ARCHITECTURE rule 4).
//
// What it promises beyond the port (see job-queue.ts):
// - no redelivery: each attempt runs once, since nothing survives a crash to be run again;
// - jobs of one definition start in the order they fall due, though retries and concurrency > 1
//   interleave them;
// - a jobId deduplicates while its job waits or runs, and for JOB_RETENTION_SECONDS after it
//   finished, whether it succeeded or failed.
import { randomUUID } from 'node:crypto';
import { createLogger, type Logger } from '../logger.ts';
import { metrics } from '../metrics.ts';
import {
  DEFAULT_ATTEMPTS,
  DEFAULT_BACKOFF_MS,
  DEFAULT_CONCURRENCY,
  type EnqueueOptions,
  JOB_RETENTION_SECONDS,
  type JobDefinition,
  type JobQueue,
} from './job-queue.ts';

export interface LocalJobQueueOptions {
  logger?: Logger;
  /** How long a finished job's id keeps deduplicating; JOB_RETENTION_SECONDS unless a test shortens it. */
  retentionSeconds?: number;
}

interface LocalJob {
  id: string;
  /** The caller's deduplication key, when it gave one. */
  jobId: string | undefined;
  payload: unknown;
  attempt: number;
}

/** Everything about one definition: its due jobs, its running count and the ids it remembers. */
interface Lane {
  definition: JobDefinition<any>;
  due: LocalJob[];
  running: number;
  pendingIds: Set<string>;
  /** jobId -> when it finished (ms). Ids go in as they finish, so the oldest come first. */
  finishedIds: Map<string, number>;
}

export class LocalJobQueue implements JobQueue {
  readonly kind = 'local' as const;
  private readonly logger: Logger;
  private readonly retentionMs: number;
  private readonly lanes = new Map<string, Lane>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private state: 'registering' | 'started' | 'stopped' = 'registering';

  constructor(options: LocalJobQueueOptions = {}) {
    this.logger = options.logger ?? createLogger('job-queue');
    this.retentionMs = (options.retentionSeconds ?? JOB_RETENTION_SECONDS) * 1000;
  }

  register(definition: JobDefinition<any>): void {
    if (this.state !== 'registering') throw new Error(`job ${definition.name} registered after start()`);
    if (this.lanes.has(definition.name)) throw new Error(`job ${definition.name} registered twice`);
    this.lanes.set(definition.name, { definition, due: [], running: 0, pendingIds: new Set(), finishedIds: new Map() });
  }

  async enqueue<T>(definition: JobDefinition<T>, payload: T, options: EnqueueOptions = {}): Promise<{ id: string }> {
    definition.schema.parse(payload);
    const lane = this.lanes.get(definition.name);
    // Unlike Redis, no other process could ever pick the job up: fail now rather than hold it forever.
    if (!lane) throw new Error(`job ${definition.name} is not registered with this queue`);
    if (this.state === 'stopped') throw new Error(`job queue is stopped: ${definition.name} not enqueued`);

    const { jobId } = options;
    if (jobId !== undefined) {
      this.forgetExpiredIds(lane);
      if (lane.pendingIds.has(jobId) || lane.finishedIds.has(jobId)) return { id: jobId };
      lane.pendingIds.add(jobId);
    }
    const job: LocalJob = { id: jobId ?? randomUUID(), jobId, payload: viaJson(payload), attempt: 1 };
    this.schedule(lane, job, options.delayMs ?? 0);
    return { id: job.id };
  }

  async start(): Promise<void> {
    if (this.state === 'stopped') throw new Error('a stopped job queue cannot start again');
    this.state = 'started';
    for (const lane of this.lanes.values()) this.drain(lane);
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    // drain() starts nothing once stopped, so the set only shrinks.
    await Promise.all(this.running);
  }

  async ping(): Promise<void> {
    // Nothing to reach: the queue lives in this process.
  }

  // Every job, even one due now, goes through a timer: enqueue() returns before the handler
  // starts (as with Redis), and stop() can cancel whatever has not started.
  private schedule(lane: Lane, job: LocalJob, delayMs: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      lane.due.push(job);
      this.drain(lane);
    }, delayMs);
    this.timers.add(timer);
  }

  private drain(lane: Lane): void {
    const concurrency = lane.definition.concurrency ?? DEFAULT_CONCURRENCY;
    while (this.state === 'started' && lane.running < concurrency) {
      const job = lane.due.shift();
      if (!job) return;
      lane.running += 1;
      const run: Promise<void> = this.attempt(lane, job).finally(() => {
        lane.running -= 1;
        this.running.delete(run);
        this.drain(lane);
      });
      this.running.add(run);
    }
  }

  /** Runs one attempt and decides what follows; never rejects. */
  private async attempt(lane: Lane, job: LocalJob): Promise<void> {
    const { definition } = lane;
    const log = { job: definition.name, jobId: job.id, attempt: job.attempt };
    const parsed = definition.schema.safeParse(job.payload);
    if (!parsed.success) {
      // It was valid when queued, so the schema changed since: retrying cannot help.
      this.logger.error({ ...log, err: parsed.error }, 'job payload does not match its schema');
      this.finish(lane, job, 'failed');
      return;
    }
    try {
      await definition.handle(parsed.data, { id: job.id, attempt: job.attempt });
    } catch (error) {
      if (job.attempt >= (definition.attempts ?? DEFAULT_ATTEMPTS)) {
        this.logger.error({ ...log, err: error }, 'job failed');
        this.finish(lane, job, 'failed');
      } else if (this.state !== 'started') {
        // stop() has cleared the timers; a retry scheduled now would outlive the queue.
        this.logger.error({ ...log, err: error }, 'job failed while the queue stopped: retry dropped');
        this.finish(lane, job, 'failed');
      } else {
        this.logger.warn({ ...log, err: error }, 'job retried');
        metrics.jobs.inc({ job: definition.name, outcome: 'retried' });
        const backoffMs = (definition.backoffMs ?? DEFAULT_BACKOFF_MS) * 2 ** (job.attempt - 1);
        this.schedule(lane, { ...job, attempt: job.attempt + 1 }, backoffMs);
      }
      return;
    }
    this.finish(lane, job, 'ok');
  }

  private finish(lane: Lane, job: LocalJob, outcome: 'ok' | 'failed'): void {
    metrics.jobs.inc({ job: lane.definition.name, outcome });
    if (job.jobId === undefined) return;
    lane.pendingIds.delete(job.jobId);
    lane.finishedIds.set(job.jobId, Date.now());
    this.forgetExpiredIds(lane);
  }

  /** Keeps memory bounded by the ids finished within the retention window. */
  private forgetExpiredIds(lane: Lane): void {
    const expiredBefore = Date.now() - this.retentionMs;
    for (const [jobId, finishedAt] of lane.finishedIds) {
      if (finishedAt > expiredBefore) return;
      lane.finishedIds.delete(jobId);
    }
  }
}

/** The same JSON round trip a payload makes through Redis, so one that relies on in-process
 * objects (a Date, a Map) fails here as it would in cluster mode. */
function viaJson(payload: unknown): unknown {
  const json = JSON.stringify(payload);
  return json === undefined ? undefined : JSON.parse(json);
}
