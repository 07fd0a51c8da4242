// The journey executor as its own process (cluster mode): config -> database and bus -> executor
// (steppers, sweeper, scheduled triggers, the consumer of other contexts' events) and the journey
// outbox relay -> health, readiness and metrics -> shutdown.
import { JourneyExecutor, outbox } from '@mauntic/journey/executor';
import {
  createBus,
  createLogger,
  OutboxRelay,
  openDatabaseFromEnv,
  runMain,
  Shutdown,
  startHttpServer,
  startTracing,
  stopTracing,
} from '@mauntic/platform';
import { executorSettings, parseExecutorEnvironment } from './environment.ts';
import { countBatch } from './metrics.ts';

runMain(async () => {
  const env = parseExecutorEnvironment();
  const logger = createLogger('journey-executor', env.log.LOG_LEVEL);
  const shutdown = new Shutdown(logger, env.server.SHUTDOWN_TIMEOUT_MS);
  if (await startTracing('journey-executor')) shutdown.add('tracing', stopTracing);
  const handle = await openDatabaseFromEnv(env.db, 'journey-executor');
  shutdown.add('database', () => handle.close());
  const bus = createBus(env.bus, logger);
  shutdown.add('bus', () => bus.stop());

  const executor = new JourneyExecutor({ handle, logger, ...executorSettings(env.executor), onBatch: countBatch });
  bus.subscribe(executor.subscription());
  shutdown.add('executor', () => executor.stop());
  // The executor writes most of the journey outbox (sends, runs' events): it relays it too.
  const relay = new OutboxRelay({ handle, context: 'journey', table: outbox, bus, logger });
  shutdown.add('relay', () => relay.stop());

  const http = await startHttpServer(
    {
      service: 'journey-executor',
      metricsPort: env.server.METRICS_PORT,
      logger,
      routes: {},
      readiness: { database: () => handle.ping(), bus: () => bus.ping() },
    },
    env.server.PORT,
    env.server.HOST,
  );
  shutdown.add('http', () => http.close());
  await executor.start();
  await bus.start();
  await relay.start();
  shutdown.installSignalHandlers();
  logger.info({ owner: env.executor.EXECUTOR_OWNER, port: http.port }, 'journey executor running');
});
