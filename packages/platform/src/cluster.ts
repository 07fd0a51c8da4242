// The main() of every subgraph deployable in cluster mode: config -> clients -> context ->
// server -> health/readiness -> shutdown. Every subgraph's src/index.ts is a call to this.
import type { z } from 'zod';
import {
  type busModel,
  ConfigError,
  databaseModel,
  parseEnvironment,
  type queueModel,
  type secretsModel,
  type serverModel,
} from './config.ts';
import { runMigrations } from './db/migrate.ts';
import { createLogger } from './logger.ts';
import type { ContextModule } from './module.ts';
import { createBus, createQueue, loadSecrets, openDatabaseFromEnv, startContext, startPorts } from './runtime.ts';
import { type HttpHandler, startHttpServer } from './server/http.ts';
import { Shutdown } from './server/shutdown.ts';
import { startTracing, stopTracing } from './telemetry/tracing.ts';

export interface ClusterEnv {
  server: z.infer<ReturnType<typeof serverModel>>;
  db: z.infer<typeof databaseModel>;
  bus: z.infer<typeof busModel>;
  queue: z.infer<typeof queueModel>;
  secrets: z.infer<typeof secretsModel>;
}

export async function runClusterContext<TServices>(
  module: ContextModule<TServices>,
  env: ClusterEnv,
  options: { migrate: boolean; routes?: (services: TServices) => Record<string, HttpHandler> },
) {
  const missing = [
    !env.db.DATABASE_URL && 'DATABASE_URL: required in cluster mode',
    !env.bus.KAFKA_BROKERS?.length && 'KAFKA_BROKERS: required in cluster mode',
    !env.queue.REDIS_URL && 'REDIS_URL: required in cluster mode',
  ].filter((x): x is string => Boolean(x));
  if (missing.length) throw new ConfigError(missing);

  const logger = createLogger(module.name);
  const shutdown = new Shutdown(logger, env.server.SHUTDOWN_TIMEOUT_MS);
  // Registered first, so it runs last: the spans of the steps before it are exported.
  if (await startTracing(module.name)) shutdown.add('tracing', stopTracing);
  const secrets = loadSecrets(env.secrets);
  const handle = await openDatabaseFromEnv(env.db, module.name);
  shutdown.add('database', () => handle.close());
  const bus = createBus(env.bus, logger);
  shutdown.add('bus', () => bus.stop());
  const queue = createQueue(env.queue, logger);
  shutdown.add('queue', () => queue.stop());

  const context = await startContext(module, { handle, bus, queue, logger, secrets }, { migrate: options.migrate });
  shutdown.add('relay', () => context.relay.stop());
  const http = await startHttpServer(
    {
      service: module.name,
      metricsPort: env.server.METRICS_PORT,
      logger,
      routes: { '/graphql': context.subgraph.route(), ...options.routes?.(context.services) },
      readiness: { database: () => handle.ping(), bus: () => bus.ping(), queue: () => queue.ping() },
    },
    env.server.PORT,
    env.server.HOST,
  );
  // First stop taking requests and let in-flight ones finish, then the rest.
  shutdown.add('graphql', async () => {
    await http.close();
    await context.subgraph.stop();
  });
  await startPorts({ bus, queue }, [context as never]);
  shutdown.installSignalHandlers();
  logger.info({ port: http.port }, `${module.name} subgraph listening`);
  return { http, context, shutdown };
}

/** Runs main(), printing configuration errors plainly and exiting non-zero on failure. */
export function runMain(main: () => Promise<unknown>): void {
  main().catch((error) => {
    if (error instanceof ConfigError) console.error(error.message);
    else console.error(error);
    process.exit(1);
  });
}

/** The `migrate` command of a context: applies its migrations to DATABASE_URL (or PGlite under DATA_DIR). */
export function runMigrateCommand(module: Pick<ContextModule, 'name' | 'migrations'>): void {
  runMain(async () => {
    const { db } = parseEnvironment({ db: databaseModel });
    const handle = await openDatabaseFromEnv(db, `${module.name}-migrate`);
    try {
      await runMigrations(handle, module.migrations);
    } finally {
      await handle.close();
    }
    createLogger(module.name).info({ schema: module.migrations.schema }, 'migrations applied');
  });
}
