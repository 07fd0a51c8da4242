// The journey executor's configuration; docs/configuration.md lists every variable.
import { hostname } from 'node:os';
import { busModel, ConfigError, databaseModel, logModel, parseEnvironment, serverModel } from '@mauntic/platform';
import { z } from 'zod';

export const executorModel = z.object({
  /** This executor's name in run leases; unique among executors, stable across restarts (the pod name). */
  EXECUTOR_OWNER: z.string().min(1).max(100).default(hostname()),
  /** Runs claimed at once per lane. */
  EXECUTOR_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Due delays a lane wakes at once, set-based (many falling due together). */
  EXECUTOR_WAKE_SIZE: z.coerce.number().int().min(1).max(100_000).default(5000),
  /** Batches in flight at once. */
  EXECUTOR_LANES: z.coerce.number().int().min(1).max(64).default(2),
  /** How long a claimed run is this executor's before another may take it over. */
  EXECUTOR_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  /** How often the sweeper reads the due index at most. */
  EXECUTOR_SWEEP_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** How often date-field and schedule triggers are evaluated. */
  EXECUTOR_SCHEDULE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
});

/**
 * The worker's variables. It runs in cluster mode only (embedded mode runs the executor
 * in-process), so the database and Kafka are required; all that is missing is reported at once.
 */
export function parseExecutorEnvironment(env: NodeJS.ProcessEnv = process.env) {
  const config = parseEnvironment(
    { server: serverModel(4104), log: logModel, db: databaseModel, bus: busModel, executor: executorModel },
    env,
  );
  const missing = [
    !config.db.DATABASE_URL && 'DATABASE_URL: required in cluster mode',
    !config.bus.KAFKA_BROKERS?.length && 'KAFKA_BROKERS: required in cluster mode',
  ].filter((x): x is string => Boolean(x));
  if (missing.length) throw new ConfigError(missing);
  return config;
}

export const executorSettings = (executor: z.infer<typeof executorModel>) => ({
  owner: executor.EXECUTOR_OWNER,
  batchSize: executor.EXECUTOR_BATCH_SIZE,
  wakeSize: executor.EXECUTOR_WAKE_SIZE,
  lanes: executor.EXECUTOR_LANES,
  leaseMs: executor.EXECUTOR_LEASE_MS,
  sweepMs: executor.EXECUTOR_SWEEP_MS,
  scheduleMs: executor.EXECUTOR_SCHEDULE_MS,
});
