// Embedded mode: one process runs the gateway, every subgraph (called in-process, no HTTP hop)
// and every worker, over PGlite in a data folder, the local bus and the local job queue.
// Setting DATABASE_URL, KAFKA_BROKERS or REDIS_URL swaps in the real service: same code path.
import { resolve } from 'node:path';
import { type CrmServices, crmHttpRoutes, crmModule } from '@mauntic/crm';
import { crmModel } from '@mauntic/crm/environment';
import { type DeliveryServices, deliveryModule } from '@mauntic/delivery';
import { deliveryModel } from '@mauntic/delivery/environment';
import { deliveryRoutes } from '@mauntic/delivery/http';
import { createMemoryRateLimiter, createRedisRateLimiter, parseEncryptionKey } from '@mauntic/delivery/providers';
import { createEngine } from '@mauntic/delivery-engine';
import { Gateway, gatewayModel, InProcessDataSource, loadSupergraph } from '@mauntic/gateway';
import { identityModule } from '@mauntic/identity';
import { identityModel } from '@mauntic/identity/environment';
import {
  busModel,
  type ContextModule,
  createBus,
  createLogger,
  createQueue,
  databaseModel,
  loadSecrets,
  logModel,
  namedSecret,
  openDatabaseFromEnv,
  parseEnvironment,
  queueModel,
  type RunningContext,
  type RunningHttpServer,
  secretsModel,
  serverModel,
  startContext,
  startHttpServer,
  startPorts,
} from '@mauntic/platform';
import { Redis } from 'ioredis';

export interface Embedded {
  url: string;
  http: RunningHttpServer;
  contexts: RunningContext<unknown>[];
  stop(): Promise<void>;
}

export async function startEmbedded(env: NodeJS.ProcessEnv = process.env): Promise<Embedded> {
  const config = parseEnvironment(
    {
      server: serverModel(4000).extend({ HOST: serverModel(4000).shape.HOST.default('127.0.0.1') }),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
      gateway: gatewayModel,
      identity: identityModel,
      crm: crmModel,
      delivery: deliveryModel,
    },
    env,
  );
  const logger = createLogger('mauntic', config.log.LOG_LEVEL);
  const dataDir = resolve(config.db.DATA_DIR);
  const secrets = loadSecrets(config.secrets, dataDir);
  const handle = await openDatabaseFromEnv(config.db, 'mauntic-embedded');
  const bus = createBus(config.bus, logger);
  const queue = createQueue(config.queue, logger);
  const deps = { handle, bus, queue, logger, secrets };

  const encryptionKey = parseEncryptionKey(
    namedSecret('DELIVERY_ENCRYPTION_KEY', config.delivery.DELIVERY_ENCRYPTION_KEY, dataDir),
  );
  const trackingKey = Buffer.from(namedSecret('TRACKING_SECRET', config.delivery.TRACKING_SECRET, dataDir)!, 'utf8');
  const publicBaseUrl = env.PUBLIC_BASE_URL
    ? config.delivery.PUBLIC_BASE_URL
    : `http://localhost:${config.server.PORT}`;
  const modules: ContextModule<any>[] = [
    identityModule(config.identity),
    crmModule({ refreshIntervalMs: config.crm.CRM_SEGMENT_REFRESH_SECONDS * 1000 }),
    deliveryModule({ publicBaseUrl, encryptionKey, trackingKey }),
  ];
  const contexts: RunningContext<unknown>[] = [];
  for (const module of modules)
    contexts.push((await startContext(module, deps, { migrate: true })) as RunningContext<unknown>);
  const byName = new Map(contexts.map((c) => [c.module.name, c]));
  const identity = contexts.find((c) => c.module.name === 'identity')!.services as ReturnType<
    ReturnType<typeof identityModule>['createServices']
  >;

  const gateway = new Gateway({
    supergraphSdl: loadSupergraph(config.gateway.SUPERGRAPH_PATH).sdl,
    dataSource: (name) => {
      const context = byName.get(name);
      if (!context) throw new Error(`the supergraph names subgraph ${name}, which this process does not run`);
      return new InProcessDataSource(context.subgraph, secrets.internalKey);
    },
    jwtKey: secrets.jwtKey,
    verifyApiKey: (key) => identity.verifyApiKey(key),
    logger,
    maxDepth: config.gateway.GATEWAY_MAX_DEPTH,
    maxCost: config.gateway.GATEWAY_MAX_COST,
    corsOrigins: config.gateway.GATEWAY_CORS_ORIGINS,
  });
  await gateway.start();
  // The delivery engine runs in-process; email with no provider set up lands in the local outbox.
  const redis = config.queue.REDIS_URL ? new Redis(config.queue.REDIS_URL) : undefined;
  const engine = createEngine({
    handle,
    logger: logger.child({ worker: 'delivery-engine' }),
    limiter: redis ? createRedisRateLimiter(redis) : createMemoryRateLimiter(),
    encryptionKey,
    trackingKey,
    publicBaseUrl,
    owner: 'embedded',
    journalDir: resolve(dataDir, 'engine-journal'),
    localOutbox: true,
  });
  bus.subscribe(engine.subscription());
  await startPorts({ bus, queue }, contexts);
  await engine.start();
  const http = await startHttpServer(
    {
      service: 'mauntic',
      logger,
      // CRM's export downloads are served here too, at the path its export links name.
      routes: {
        '/graphql': gateway.route(),
        ...crmHttpRoutes(byName.get('crm')!.services as CrmServices),
        // Tracking, unsubscribe, provider webhooks and the browser outbox at /outbox.
        ...deliveryRoutes(byName.get('delivery')!.services as DeliveryServices, { outbox: true }),
      },
      readiness: { database: () => handle.ping(), bus: () => bus.ping(), queue: () => queue.ping() },
    },
    config.server.PORT,
    config.server.HOST,
  );

  let stopping: Promise<void> | undefined;
  return {
    url: `${http.url}/graphql`,
    http,
    contexts,
    stop: () => {
      stopping ??= (async () => {
        await http.close();
        await engine.stop();
        redis?.disconnect();
        await gateway.stop();
        for (const context of contexts) await context.stop();
        await queue.stop();
        await bus.stop();
        await handle.close();
      })();
      return stopping;
    },
  };
}
