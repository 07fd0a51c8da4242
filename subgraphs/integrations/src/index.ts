// The integrations subgraph as its own process (cluster mode), serving the Segment-compatible
// ingestion endpoint beside its GraphQL.
import { runClusterContext, runMain } from '@mauntic/platform';
import { parseIntegrationsEnvironment } from './environment.ts';
import { integrationsRoutes } from './http/routes.ts';
import { integrationsModule } from './module.ts';

runMain(async () => {
  const env = parseIntegrationsEnvironment();
  await runClusterContext(integrationsModule(), env, {
    migrate: env.db.MIGRATE_ON_START,
    routes: (services) => integrationsRoutes(services),
  });
});
