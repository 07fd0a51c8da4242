// The gateway as its own process (cluster mode): subgraphs over HTTP.
import {
  createLogger,
  loadSecrets,
  openRateLimiter,
  runMain,
  Shutdown,
  startHttpServer,
  startTracing,
  stopTracing,
} from '@mauntic/platform';
import { httpApiKeyVerifier } from './api-key-client.ts';
import { SignedRemoteDataSource, subgraphsAnswer } from './data-sources.ts';
import { parseGatewayEnvironment, rateLimitSettings, subgraphUrls } from './environment.ts';
import { Gateway } from './gateway.ts';
import { PUBLIC_ROUTES, proxyTo } from './public-routes.ts';
import { subscriptionSettings } from './subscriptions/settings.ts';
import { loadSupergraph } from './supergraph.ts';

runMain(async () => {
  const env = parseGatewayEnvironment();
  const logger = createLogger('gateway');
  // Before the gateway is built: its subgraph data sources are traced only if tracing is on.
  const traced = await startTracing('gateway');
  const secrets = loadSecrets(env.secrets);
  const supergraph = loadSupergraph(env.gateway.SUPERGRAPH_PATH);
  const urls = subgraphUrls(supergraph);
  const settings = env.gateway;
  const budgets = openRateLimiter({
    redisUrl: env.redis.REDIS_URL,
    prefix: settings.GATEWAY_RATE_LIMIT_PREFIX,
    logger,
  });
  const gateway = new Gateway({
    supergraphSdl: supergraph.sdl,
    dataSource: (name) =>
      new SignedRemoteDataSource({
        name,
        url: urls[name]!,
        internalKey: secrets.internalKey,
        timeoutMs: settings.GATEWAY_SUBGRAPH_TIMEOUT_MS,
        logger,
      }),
    jwtKey: secrets.jwtKey,
    verifyApiKey: httpApiKeyVerifier(env.gateway.IDENTITY_INTERNAL_URL, secrets.internalKey),
    logger,
    maxDepth: settings.GATEWAY_MAX_DEPTH,
    maxCost: settings.GATEWAY_MAX_COST,
    corsOrigins: settings.GATEWAY_CORS_ORIGINS,
    maxAliases: settings.GATEWAY_MAX_ALIASES,
    maxRootFields: settings.GATEWAY_MAX_ROOT_FIELDS,
    maxFragments: settings.GATEWAY_MAX_FRAGMENTS,
    maxTokens: settings.GATEWAY_MAX_TOKENS,
    introspection: settings.GATEWAY_INTROSPECTION,
    rateLimits: rateLimitSettings(settings),
    rateLimiter: budgets.limiter,
    subscriptions: subscriptionSettings(settings, env.bus, logger),
  });
  await gateway.start();
  const publicRoutes = Object.fromEntries(
    PUBLIC_ROUTES.map((r) => [r.path, proxyTo(new URL(urls[r.subgraph]!).origin)]),
  );
  const http = await startHttpServer(
    {
      service: 'gateway',
      metricsPort: env.server.METRICS_PORT,
      logger,
      routes: { '/graphql': gateway.route(), ...publicRoutes },
      // Out of readiness while a subgraph it routes to does not answer.
      readiness: { subgraphs: subgraphsAnswer(urls) },
    },
    env.server.PORT,
    env.server.HOST,
  );
  gateway.attachWebSockets(http.server);
  const shutdown = new Shutdown(logger, env.server.SHUTDOWN_TIMEOUT_MS);
  if (traced) shutdown.add('tracing', stopTracing);
  shutdown.add('graphql', async () => {
    // Subscriptions first: their long-lived responses would hold the server's close up.
    await gateway.stopSubscriptions();
    await http.close();
    await gateway.stop();
    await budgets.close();
  });
  shutdown.installSignalHandlers();
  logger.info({ port: http.port }, 'gateway listening');
});
