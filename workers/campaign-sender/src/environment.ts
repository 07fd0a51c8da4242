// The campaign sender's configuration; docs/configuration.md lists every variable.
import { busModel, ConfigError, databaseModel, logModel, parseEnvironment, serverModel } from '@mauntic/platform';
import { z } from 'zod';

export const senderModel = z.object({
  /** Recipients handed to delivery per transaction. */
  SENDER_BATCH_SIZE: z.coerce.number().int().min(1).max(100_000).default(5000),
  /** How often the sender looks for campaigns to start or hand over when it has no work. */
  SENDER_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
});

/**
 * The worker's variables. It runs in cluster mode only (embedded mode runs the sender
 * in-process), so the database and Kafka are required; all that is missing is reported at once.
 */
export function parseSenderEnvironment(env: NodeJS.ProcessEnv = process.env) {
  const config = parseEnvironment(
    { server: serverModel(4105), log: logModel, db: databaseModel, bus: busModel, sender: senderModel },
    env,
  );
  const missing = [
    !config.db.DATABASE_URL && 'DATABASE_URL: required in cluster mode',
    !config.bus.KAFKA_BROKERS?.length && 'KAFKA_BROKERS: required in cluster mode',
  ].filter((x): x is string => Boolean(x));
  if (missing.length) throw new ConfigError(missing);
  return config;
}

export const senderSettings = (sender: z.infer<typeof senderModel>) => ({
  batchSize: sender.SENDER_BATCH_SIZE,
  pollMs: sender.SENDER_POLL_MS,
});
