// The webhook dispatcher as its own process (cluster mode): config -> database and bus -> the
// dispatcher (records deliveries from every context's events, sends them) -> health, readiness and
// metrics -> shutdown. The integrations subgraph relays the integrations outbox (the dispatcher
// only writes an event there when it disables an endpoint).

import { WebhookDispatcher } from '@mauntic/integrations/dispatcher';
import { dispatcherSettings } from '@mauntic/integrations/environment';
import {
  createBus,
  createLogger,
  openDatabaseFromEnv,
  outboundGuard,
  runMain,
  Shutdown,
  startHttpServer,
} from '@mauntic/platform';
import { parseDispatcherEnvironment } from './environment.ts';
import { countAttempt } from './metrics.ts';

runMain(async () => {
  const env = parseDispatcherEnvironment();
  const logger = createLogger('webhook-dispatcher', env.log.LOG_LEVEL);
  const shutdown = new Shutdown(logger, env.server.SHUTDOWN_TIMEOUT_MS);
  const handle = await openDatabaseFromEnv(env.db, 'webhook-dispatcher');
  shutdown.add('database', () => handle.close());
  const bus = createBus(env.bus, logger);
  shutdown.add('bus', () => bus.stop());

  const dispatcher = new WebhookDispatcher({
    handle,
    logger,
    encryptionKey: env.encryptionKey,
    outbound: outboundGuard({ allow: env.outbound.OUTBOUND_ALLOWED_HOSTS }),
    ...dispatcherSettings(env.dispatcher),
    onAttempt: countAttempt,
  });
  bus.subscribe(dispatcher.subscription());
  shutdown.add('dispatcher', () => dispatcher.stop());

  const http = await startHttpServer(
    {
      service: 'webhook-dispatcher',
      logger,
      routes: {},
      readiness: { database: () => handle.ping(), bus: () => bus.ping() },
    },
    env.server.PORT,
    env.server.HOST,
  );
  shutdown.add('http', () => http.close());
  await dispatcher.start();
  await bus.start();
  shutdown.installSignalHandlers();
  logger.info({ port: http.port }, 'webhook dispatcher running');
});
