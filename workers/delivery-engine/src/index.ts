// The delivery engine as its own process (cluster mode): config -> clients -> engine -> health
// and metrics -> shutdown.
import { createRedisRateLimiter, createRedisWarmupCounters } from '@mauntic/delivery/engine';
import {
  createBus,
  createLogger,
  openDatabaseFromEnv,
  outboundGuard,
  runMain,
  Shutdown,
  startHttpServer,
  startTracing,
  stopTracing,
} from '@mauntic/platform';
import { Redis } from 'ioredis';
import { createEngine } from './create-engine.ts';
import { engineSettings, parseEngineEnvironment } from './environment.ts';

runMain(async () => {
  const env = parseEngineEnvironment();
  const logger = createLogger('delivery-engine', env.log.LOG_LEVEL);
  const shutdown = new Shutdown(logger, env.server.SHUTDOWN_TIMEOUT_MS);
  if (await startTracing('delivery-engine')) shutdown.add('tracing', stopTracing);
  const handle = await openDatabaseFromEnv(env.db, 'delivery-engine');
  shutdown.add('database', () => handle.close());
  const redis = new Redis(env.queue.REDIS_URL!, { maxRetriesPerRequest: 3 });
  // It reconnects by itself; sends that needed it meanwhile go back to the queue for a moment.
  redis.on('error', (err) => logger.warn({ err }, 'redis connection failed; reconnecting'));
  shutdown.add('redis', async () => void redis.disconnect());
  const bus = createBus(env.bus, logger);
  shutdown.add('bus', () => bus.stop());

  const engine = createEngine({
    handle,
    logger,
    limiter: createRedisRateLimiter(redis),
    warmupCounters: createRedisWarmupCounters(redis),
    outbound: outboundGuard({ allow: env.outbound.OUTBOUND_ALLOWED_HOSTS }),
    ...env.keys,
    ...engineSettings(env.engine),
  });
  bus.subscribe(engine.subscription());
  shutdown.add('engine', () => engine.stop());

  const http = await startHttpServer(
    {
      service: 'delivery-engine',
      metricsPort: env.server.METRICS_PORT,
      logger,
      routes: {},
      readiness: { database: () => handle.ping(), bus: () => bus.ping(), redis: async () => void (await redis.ping()) },
    },
    env.server.PORT,
    env.server.HOST,
  );
  shutdown.add('http', () => http.close());
  await engine.start();
  await bus.start();
  shutdown.installSignalHandlers();
  logger.info({ owner: env.engine.ENGINE_OWNER, port: http.port }, 'delivery engine running');
});
