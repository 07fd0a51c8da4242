// Embedded mode: one process runs the gateway, every subgraph (called in-process, no HTTP hop)
// and every worker, over PGlite in a data folder, the local bus and the local job queue.
// Setting DATABASE_URL, KAFKA_BROKERS or REDIS_URL swaps in the real service: same code path.
import { resolve } from 'node:path';
import { campaignModule } from '@mauntic/campaign';
import { CampaignSender } from '@mauntic/campaign/sender';
import { type CrmServices, crmHttpRoutes, crmModule } from '@mauntic/crm';
import { type DeliveryServices, deliveryModule } from '@mauntic/delivery';
import {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  createRedisWarmupCounters,
  parseEncryptionKey,
} from '@mauntic/delivery/engine';
import { accessTokenAuthenticator, deliveryRoutes } from '@mauntic/delivery/http';
import { createEngine, type DeliveryEngine } from '@mauntic/delivery-engine';
import {
  Gateway,
  InProcessDataSource,
  loadSupergraph,
  rateLimitSettings,
  subscriptionSettings,
} from '@mauntic/gateway';
import { type IdentityServices, identityModule } from '@mauntic/identity';
import { type IntegrationsServices, integrationsModule, integrationsRoutes } from '@mauntic/integrations';
import { WebhookDispatcher } from '@mauntic/integrations/dispatcher';
import { dispatcherSettings } from '@mauntic/integrations/environment';
import { journeyModule } from '@mauntic/journey';
import { JourneyExecutor } from '@mauntic/journey/executor';
import {
  type ContextDeps,
  type ContextModule,
  createBus,
  createLogger,
  createQueue,
  type Logger,
  loadSecrets,
  namedSecret,
  type OpenRateLimiter,
  type OutboundGuard,
  openDatabaseFromEnv,
  openRateLimiter,
  outboundGuard,
  type RunningContext,
  type RunningHttpServer,
  startContext,
  startHttpServer,
  startPorts,
  startTracing,
  stopTracing,
} from '@mauntic/platform';
import { Redis } from 'ioredis';
import { type EmbeddedConfig, parseEmbeddedEnvironment } from './environment.ts';

export interface Embedded {
  url: string;
  http: RunningHttpServer;
  contexts: RunningContext<unknown>[];
  stop(): Promise<void>;
}

/** What delivery and its engine share: keys, the public address, where providers may point. */
interface DeliveryKeys {
  encryptionKey: Buffer;
  trackingKey: Buffer;
  publicBaseUrl: string;
  outbound: OutboundGuard;
  /** The platform's Postfix instances (DELIVERY_POSTFIX_INSTANCES), where POSTFIX providers send. */
  postfixInstances: { ip: string; host: string; port: number }[];
}

export async function startEmbedded(env: NodeJS.ProcessEnv = process.env): Promise<Embedded> {
  const config = parseEmbeddedEnvironment(env);
  const logger = createLogger('mauntic', config.log.LOG_LEVEL);
  // Before the gateway is built: its subgraph data sources are traced only if tracing is on.
  const traced = await startTracing('mauntic');
  const dataDir = resolve(config.db.DATA_DIR);
  const deps = await openPorts(config, dataDir, logger);
  const keys = deliveryKeys(config, dataDir, env);
  const webhookKey = parseEncryptionKey(
    namedSecret('INTEGRATIONS_ENCRYPTION_KEY', config.integrations.INTEGRATIONS_ENCRYPTION_KEY, dataDir),
  );
  const contexts = await startContexts(contextModules(config, keys, webhookKey), deps);
  const budgets = openRateLimiter({
    redisUrl: config.queue.REDIS_URL,
    prefix: config.gateway.GATEWAY_RATE_LIMIT_PREFIX,
    logger: deps.logger,
  });
  const gateway = await startGateway(config, contexts, deps, budgets);
  const redis = config.queue.REDIS_URL ? new Redis(config.queue.REDIS_URL) : undefined;
  const engine = deliveryEngine(deps, keys, dataDir, redis);
  deps.bus.subscribe(engine.subscription());
  const executor = journeyExecutor(deps);
  deps.bus.subscribe(executor.subscription());
  const sender = new CampaignSender({ handle: deps.handle, logger: deps.logger.child({ worker: 'campaign-sender' }) });
  const webhooks = new WebhookDispatcher({
    handle: deps.handle,
    logger: deps.logger.child({ worker: 'webhook-dispatcher' }),
    encryptionKey: webhookKey,
    outbound: keys.outbound,
    ...dispatcherSettings(config.webhooks),
  });
  deps.bus.subscribe(webhooks.subscription());
  await startPorts(deps, contexts);
  await engine.start();
  await executor.start();
  await sender.start();
  await webhooks.start();
  const http = await serve(config, gateway, contexts, deps);
  gateway.attachWebSockets(http.server);

  let stopping: Promise<void> | undefined;
  return {
    url: `${http.url}/graphql`,
    http,
    contexts,
    stop: () => {
      // Stop taking requests first, then the workers, then the contexts, then the ports.
      stopping ??= (async () => {
        // The gateway's subscriptions end first: their open responses would hold the server's close up.
        await gateway.stopSubscriptions();
        await http.close();
        await webhooks.stop();
        await sender.stop();
        await executor.stop();
        await engine.stop();
        redis?.disconnect();
        await gateway.stop();
        await budgets.close();
        for (const context of contexts) await context.stop();
        await deps.queue.stop();
        await deps.bus.stop();
        await deps.handle.close();
        if (traced) await stopTracing();
      })();
      return stopping;
    },
  };
}

/** Secrets (generated once into the data folder when unset), the database, the bus and the queue. */
async function openPorts(config: EmbeddedConfig, dataDir: string, logger: Logger): Promise<ContextDeps> {
  const secrets = loadSecrets(config.secrets, dataDir);
  const handle = await openDatabaseFromEnv(config.db, 'mauntic-embedded');
  return { handle, bus: createBus(config.bus, logger), queue: createQueue(config.queue, logger), logger, secrets };
}

function deliveryKeys(config: EmbeddedConfig, dataDir: string, env: NodeJS.ProcessEnv): DeliveryKeys {
  const { delivery } = config;
  return {
    encryptionKey: parseEncryptionKey(
      namedSecret('DELIVERY_ENCRYPTION_KEY', delivery.DELIVERY_ENCRYPTION_KEY, dataDir),
    ),
    trackingKey: Buffer.from(namedSecret('TRACKING_SECRET', delivery.TRACKING_SECRET, dataDir)!, 'utf8'),
    // Links in mail point at this very server unless told otherwise.
    publicBaseUrl: env.PUBLIC_BASE_URL ? delivery.PUBLIC_BASE_URL : `http://localhost:${config.server.PORT}`,
    outbound: outboundGuard({ allow: config.outbound.OUTBOUND_ALLOWED_HOSTS }),
    postfixInstances: delivery.DELIVERY_POSTFIX_INSTANCES,
  };
}

function contextModules(config: EmbeddedConfig, keys: DeliveryKeys, webhookKey: Buffer): ContextModule<any>[] {
  return [
    identityModule(config.identity),
    crmModule({ refreshIntervalMs: config.crm.CRM_SEGMENT_REFRESH_SECONDS * 1000 }),
    deliveryModule(keys),
    journeyModule(),
    integrationsModule({
      encryptionKey: webhookKey,
      outbound: keys.outbound,
      maxWebhookEndpoints: config.webhookEndpoints.WEBHOOK_MAX_ENDPOINTS,
    }),
    campaignModule(),
  ];
}

async function startContexts(modules: ContextModule<any>[], deps: ContextDeps): Promise<RunningContext<unknown>[]> {
  const contexts: RunningContext<unknown>[] = [];
  // Embedded mode always migrates: there is no separate migration job.
  for (const module of modules) contexts.push(await startContext(module, deps, { migrate: true }));
  return contexts;
}

const servicesOf = <T>(contexts: RunningContext<unknown>[], name: string) =>
  contexts.find((c) => c.module.name === name)!.services as T;

/** The gateway over the shipped supergraph, calling each subgraph in-process. */
async function startGateway(
  config: EmbeddedConfig,
  contexts: RunningContext<unknown>[],
  deps: ContextDeps,
  budgets: OpenRateLimiter,
): Promise<Gateway> {
  const byName = new Map(contexts.map((c) => [c.module.name, c]));
  const identity = servicesOf<IdentityServices>(contexts, 'identity');
  const gateway = new Gateway({
    supergraphSdl: loadSupergraph(config.gateway.SUPERGRAPH_PATH).sdl,
    dataSource: (name) => {
      const context = byName.get(name);
      if (!context) throw new Error(`the supergraph names subgraph ${name}, which this process does not run`);
      return new InProcessDataSource(context.subgraph, deps.secrets.internalKey);
    },
    jwtKey: deps.secrets.jwtKey,
    verifyApiKey: (key) => identity.verifyApiKey(key),
    logger: deps.logger,
    maxDepth: config.gateway.GATEWAY_MAX_DEPTH,
    maxCost: config.gateway.GATEWAY_MAX_COST,
    corsOrigins: config.gateway.GATEWAY_CORS_ORIGINS,
    maxAliases: config.gateway.GATEWAY_MAX_ALIASES,
    maxRootFields: config.gateway.GATEWAY_MAX_ROOT_FIELDS,
    maxFragments: config.gateway.GATEWAY_MAX_FRAGMENTS,
    maxTokens: config.gateway.GATEWAY_MAX_TOKENS,
    introspection: config.gateway.GATEWAY_INTROSPECTION,
    rateLimits: rateLimitSettings(config.gateway),
    rateLimiter: budgets.limiter,
    subscriptions: subscriptionSettings(config.gateway, config.bus, deps.logger, deps.bus),
  });
  await gateway.start();
  return gateway;
}

/** The delivery engine in-process; email with no provider set up lands in the local outbox. */
function deliveryEngine(deps: ContextDeps, keys: DeliveryKeys, dataDir: string, redis?: Redis): DeliveryEngine {
  return createEngine({
    handle: deps.handle,
    logger: deps.logger.child({ worker: 'delivery-engine' }),
    limiter: redis ? createRedisRateLimiter(redis) : createMemoryRateLimiter(),
    ...(redis ? { warmupCounters: createRedisWarmupCounters(redis) } : {}),
    ...keys,
    owner: 'embedded',
    journalDir: resolve(dataDir, 'engine-journal'),
    localOutbox: true,
  });
}

/** The journey executor in-process: its steppers, sweeper, scheduled triggers and event consumer. */
function journeyExecutor(deps: ContextDeps): JourneyExecutor {
  return new JourneyExecutor({
    handle: deps.handle,
    logger: deps.logger.child({ worker: 'journey-executor' }),
    owner: 'embedded',
  });
}

/**
 * One server: the graph, CRM's export downloads, delivery's tracking, webhooks and /outbox, and
 * the Segment-compatible ingestion endpoint (/v1/*).
 */
function serve(
  config: EmbeddedConfig,
  gateway: Gateway,
  contexts: RunningContext<unknown>[],
  deps: ContextDeps,
): Promise<RunningHttpServer> {
  return startHttpServer(
    {
      service: 'mauntic',
      logger: deps.logger,
      routes: {
        '/graphql': gateway.route(),
        ...crmHttpRoutes(servicesOf<CrmServices>(contexts, 'crm')),
        ...deliveryRoutes(servicesOf<DeliveryServices>(contexts, 'delivery'), {
          // Each organization's people read their own mail, signed in through identity.
          outbox: {
            authenticate: accessTokenAuthenticator(deps.secrets.jwtKey),
            logIn: servicesOf<IdentityServices>(contexts, 'identity').logIn,
          },
        }),
        ...integrationsRoutes(servicesOf<IntegrationsServices>(contexts, 'integrations')),
      },
      readiness: { database: () => deps.handle.ping(), bus: () => deps.bus.ping(), queue: () => deps.queue.ping() },
    },
    config.server.PORT,
    config.server.HOST,
  );
}
