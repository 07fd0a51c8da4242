// The integrations subgraph as its own process (cluster mode), serving the Segment-compatible
// ingestion endpoint and the webhook endpoints' API beside its GraphQL.
import { outboundGuard, runClusterContext, runMain } from '@mauntic/platform';
import { clusterEncryptionKey, parseIntegrationsEnvironment } from './environment.ts';
import { integrationsRoutes } from './http/routes.ts';
import { integrationsModule } from './module.ts';

runMain(async () => {
  const env = parseIntegrationsEnvironment();
  const module = integrationsModule({
    encryptionKey: clusterEncryptionKey(env.integrations),
    outbound: outboundGuard({ allow: env.outbound.OUTBOUND_ALLOWED_HOSTS }),
    maxWebhookEndpoints: env.webhookEndpoints.WEBHOOK_MAX_ENDPOINTS,
  });
  await runClusterContext(module, env, {
    migrate: env.db.MIGRATE_ON_START,
    routes: (services) => integrationsRoutes(services),
  });
});
