// Builds the ports for a process from its configuration: PGlite or Postgres, the local bus or
// Kafka, the local queue or BullMQ. Which one is chosen is the only difference between modes.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { z } from 'zod';
import type { EventBus } from './bus/event-bus.ts';
import { KafkaEventBus } from './bus/kafka-event-bus.ts';
import { LocalEventBus } from './bus/local-event-bus.ts';
import type { busModel, databaseModel, queueModel, secretsModel } from './config.ts';
import { ConfigError } from './config.ts';
import { type DatabaseHandle, openDatabase } from './db/database.ts';
import { runMigrations } from './db/migrate.ts';
import { BullMqJobQueue } from './jobs/bullmq-job-queue.ts';
import type { JobQueue } from './jobs/job-queue.ts';
import { LocalJobQueue } from './jobs/local-job-queue.ts';
import type { Logger } from './logger.ts';
import type { ContextDeps, ContextModule, Secrets } from './module.ts';
import { OutboxRelay } from './outbox/relay.ts';
import { secretKey } from './server/internal-context.ts';
import { Subgraph } from './server/subgraph.ts';

type Env = z.infer<typeof databaseModel> & z.infer<typeof busModel> & z.infer<typeof queueModel>;

export async function openDatabaseFromEnv(
  env: z.infer<typeof databaseModel>,
  applicationName: string,
): Promise<DatabaseHandle> {
  return env.DATABASE_URL
    ? openDatabase({ url: env.DATABASE_URL, maxConnections: env.DATABASE_POOL_SIZE, applicationName })
    : openDatabase({ dataDir: resolve(env.DATA_DIR, 'pg') });
}

export function createBus(env: z.infer<typeof busModel>, logger: Logger): EventBus {
  return env.KAFKA_BROKERS?.length
    ? new KafkaEventBus({
        topicPrefix: env.KAFKA_TOPIC_PREFIX,
        brokers: env.KAFKA_BROKERS,
        clientId: env.KAFKA_CLIENT_ID,
        partitions: env.KAFKA_TOPIC_PARTITIONS,
        logger,
      })
    : new LocalEventBus({ logger });
}

export function createQueue(env: z.infer<typeof queueModel>, logger: Logger): JobQueue {
  return env.REDIS_URL
    ? new BullMqJobQueue({ redisUrl: env.REDIS_URL, prefix: env.REDIS_KEY_PREFIX, logger })
    : new LocalJobQueue({ logger });
}

/**
 * Secrets from the environment. Where one is unset and a data folder is given (embedded mode),
 * a random one is made once and kept in <dataDir>/secrets.json so sessions survive restarts.
 * Without a data folder (cluster mode) a missing secret is a configuration error.
 */
export function loadSecrets(env: z.infer<typeof secretsModel>, dataDir?: string): Secrets {
  let stored: Record<string, string> = {};
  const file = dataDir ? join(dataDir, 'secrets.json') : undefined;
  if (file && existsSync(file)) stored = JSON.parse(readFileSync(file, 'utf8'));
  const missing: string[] = [];
  const pick = (name: 'INTERNAL_CONTEXT_SECRET' | 'AUTH_JWT_SECRET') => {
    const value = env[name] ?? stored[name];
    if (value) return value;
    if (!file) {
      missing.push(`${name}: required in cluster mode`);
      return '';
    }
    stored[name] = randomBytes(32).toString('base64url');
    return stored[name];
  };
  const internal = pick('INTERNAL_CONTEXT_SECRET');
  const jwt = pick('AUTH_JWT_SECRET');
  if (missing.length) throw new ConfigError(missing);
  if (file) {
    mkdirSync(dataDir!, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  }
  return { internalKey: secretKey(internal), jwtKey: secretKey(jwt) };
}

/**
 * A secret a deployable needs beyond the shared ones: the configured value, or (embedded mode,
 * with a data folder) one generated once and kept in <dataDir>/secrets.json. Undefined when
 * neither: the caller reports it as missing.
 */
export function namedSecret(name: string, configured: string | undefined, dataDir?: string): string | undefined {
  if (configured) return configured;
  if (!dataDir) return undefined;
  const file = join(dataDir, 'secrets.json');
  const stored: Record<string, string> = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  if (stored[name]) return stored[name];
  stored[name] = randomBytes(32).toString('base64');
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(stored, null, 2), { mode: 0o600 });
  return stored[name];
}

export interface RunningContext<TServices = unknown> {
  module: ContextModule<TServices>;
  services: TServices;
  subgraph: Subgraph;
  relay: OutboxRelay;
  stop(): Promise<void>;
}

/**
 * Wires one context onto the ports: migrations (when asked), use cases, the subgraph, the outbox
 * relay, its consumers and jobs. Call startPorts() once every context is wired.
 */
export async function startContext<TServices>(
  module: ContextModule<TServices>,
  deps: ContextDeps,
  options: { migrate: boolean },
): Promise<RunningContext<TServices>> {
  const logger = deps.logger.child({ context: module.name });
  if (options.migrate) await runMigrations(deps.handle, module.migrations);
  const services = module.createServices({ ...deps, logger });
  for (const subscription of module.subscriptions?.(services) ?? []) deps.bus.subscribe(subscription);
  for (const job of module.jobs?.(services) ?? []) deps.queue.register(job);
  const subgraph = new Subgraph({
    name: module.name,
    schema: module.schema,
    services,
    internalKey: deps.secrets.internalKey,
    logger,
  });
  await subgraph.start();
  // Started by startPorts(), once the bus is connected.
  const relay = new OutboxRelay({
    handle: deps.handle,
    context: module.name,
    table: module.outbox,
    bus: deps.bus,
    logger,
  });
  return {
    module,
    services,
    subgraph,
    relay,
    stop: async () => {
      await subgraph.stop();
      await relay.stop();
    },
  };
}

export type { Env };

/** Starts the bus and the queue (consumers and workers begin), then every outbox relay. */
export async function startPorts(
  deps: Pick<ContextDeps, 'bus' | 'queue'>,
  contexts: RunningContext<unknown>[],
): Promise<void> {
  await deps.bus.start();
  await deps.queue.start();
  for (const context of contexts) await context.relay.start();
  for (const context of contexts) await context.module.onStart?.(context.services);
}
