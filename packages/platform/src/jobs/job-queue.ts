// The JobQueue port, for short timers, retries and rate-limited work. Adapters: BullMQ (Redis,
// cluster) and local (in-process, embedded). Long waits live in Postgres, not here.
//
// Guarantees every adapter gives (proved by test/contract/job-queue.contract.ts):
// - the payload is validated against the job's schema on enqueue (bad payload -> throws, nothing
//   queued) and again before the handler runs (a bad payload fails the job without retries);
// - a delayed job does not run before its delay;
// - a failing job is retried up to `attempts` times with exponential backoff (backoffMs * 2^n);
// - a job enqueued with a jobId that is already waiting, delayed, active, or finished within the
//   retention window is not added again;
// - at most `concurrency` jobs of one definition run at once in one process;
// - stop() waits for running jobs to finish.
import type { z } from 'zod';

export interface JobInfo {
  id: string;
  /** 1 on the first try. */
  attempt: number;
}

export interface JobDefinition<T = unknown> {
  /** kebab-case, unique per process; also the queue name. */
  name: string;
  schema: z.ZodType<T>;
  handle(payload: T, info: JobInfo): Promise<void>;
  concurrency?: number;
  attempts?: number;
  backoffMs?: number;
}

export interface EnqueueOptions {
  delayMs?: number;
  /** Deduplication key: a second enqueue with the same id is ignored (see above). */
  jobId?: string;
}

export interface JobQueue {
  readonly kind: 'bullmq' | 'local';
  /** Register every definition before start(). */
  register(definition: JobDefinition<any>): void;
  enqueue<T>(definition: JobDefinition<T>, payload: T, options?: EnqueueOptions): Promise<{ id: string }>;
  start(): Promise<void>;
  stop(): Promise<void>;
  ping(): Promise<void>;
}

export const defineJob = <T>(definition: JobDefinition<T>): JobDefinition<T> => definition;

export const DEFAULT_ATTEMPTS = 3;
export const DEFAULT_BACKOFF_MS = 200;
export const DEFAULT_CONCURRENCY = 1;
/** How long a finished job's id keeps deduplicating (seconds). */
export const JOB_RETENTION_SECONDS = 3600;
