// The campaign sender as its own process (cluster mode): config -> database and bus -> the
// fan-out (starts due campaigns, hands their recipients to delivery) and the campaign outbox
// relay -> health, readiness and metrics -> shutdown.
import { CampaignSender, outbox } from '@mauntic/campaign/sender';
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
import { parseSenderEnvironment, senderSettings } from './environment.ts';
import { countBatch } from './metrics.ts';

runMain(async () => {
  const env = parseSenderEnvironment();
  const logger = createLogger('campaign-sender', env.log.LOG_LEVEL);
  const shutdown = new Shutdown(logger, env.server.SHUTDOWN_TIMEOUT_MS);
  if (await startTracing('campaign-sender')) shutdown.add('tracing', stopTracing);
  const handle = await openDatabaseFromEnv(env.db, 'campaign-sender');
  shutdown.add('database', () => handle.close());
  const bus = createBus(env.bus, logger);
  shutdown.add('bus', () => bus.stop());

  const sender = new CampaignSender({ handle, logger, ...senderSettings(env.sender), onBatch: countBatch });
  shutdown.add('sender', () => sender.stop());
  // The sender writes most of the campaign outbox (the send requests): it relays it too.
  const relay = new OutboxRelay({ handle, context: 'campaign', table: outbox, bus, logger, batchSize: 5000 });
  shutdown.add('relay', () => relay.stop());

  const http = await startHttpServer(
    {
      service: 'campaign-sender',
      metricsPort: env.server.METRICS_PORT,
      logger,
      routes: {},
      readiness: { database: () => handle.ping(), bus: () => bus.ping() },
    },
    env.server.PORT,
    env.server.HOST,
  );
  shutdown.add('http', () => http.close());
  await bus.start();
  await sender.start();
  await relay.start();
  shutdown.installSignalHandlers();
  logger.info({ port: http.port }, 'campaign sender running');
});
