// The delivery engine's configuration; docs/configuration.md lists every variable.
import { hostname } from 'node:os';
import { clusterKeys, deliveryModel } from '@mauntic/delivery/engine';
import {
  busModel,
  ConfigError,
  databaseModel,
  logModel,
  outboundModel,
  parseEnvironment,
  queueModel,
  serverModel,
} from '@mauntic/platform';
import { z } from 'zod';

export const engineModel = z.object({
  /** This engine's name in message leases and journal files; must survive restarts (the pod name). */
  ENGINE_OWNER: z.string().min(1).max(100).default(hostname()),
  /** Where the engine journals hand-overs; keep it on a volume that survives the process. */
  ENGINE_JOURNAL_DIR: z.string().default('./data/engine-journal'),
  /** Messages claimed at once per lane. */
  ENGINE_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  /** Batches in flight at once. */
  ENGINE_LANES: z.coerce.number().int().min(1).max(64).default(2),
  /** Sends in flight at once per lane (keep near the SMTP pool size). */
  ENGINE_SEND_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(16),
});

/**
 * The worker's variables and delivery's keys. It runs in cluster mode only (embedded mode builds
 * its engine in-process), so the database, Kafka, Redis and both secrets are required; all that is
 * missing is reported at once.
 */
export function parseEngineEnvironment(env: NodeJS.ProcessEnv = process.env) {
  const config = parseEnvironment(
    {
      server: serverModel(4103),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      delivery: deliveryModel,
      engine: engineModel,
      // The engine is where providers connect: it checks what the delivery subgraph validated.
      outbound: outboundModel(),
    },
    env,
  );
  const missing = [
    !config.db.DATABASE_URL && 'DATABASE_URL: required in cluster mode',
    !config.bus.KAFKA_BROKERS?.length && 'KAFKA_BROKERS: required in cluster mode',
    !config.queue.REDIS_URL && 'REDIS_URL: required in cluster mode',
  ].filter((x): x is string => Boolean(x));
  let keys: ReturnType<typeof clusterKeys> | undefined;
  try {
    keys = clusterKeys(config.delivery);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    missing.push(...error.issues);
  }
  if (missing.length || !keys) throw new ConfigError(missing);
  return { ...config, keys };
}

export const engineSettings = (engine: z.infer<typeof engineModel>) => ({
  owner: engine.ENGINE_OWNER,
  journalDir: engine.ENGINE_JOURNAL_DIR,
  batchSize: engine.ENGINE_BATCH_SIZE,
  lanes: engine.ENGINE_LANES,
  sendConcurrency: engine.ENGINE_SEND_CONCURRENCY,
});
