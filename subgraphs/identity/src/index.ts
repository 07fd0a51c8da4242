// The identity subgraph as its own process (cluster mode).
import { loadSecrets, runClusterContext, runMain } from '@mauntic/platform';
import { parseIdentityEnvironment } from './environment.ts';
import { identityHttpRoutes } from './http/api-key-verify.ts';
import { identityModule } from './module.ts';

runMain(async () => {
  const env = parseIdentityEnvironment();
  await runClusterContext(identityModule(env.identity), env, {
    migrate: env.db.MIGRATE_ON_START,
    routes: (services) => identityHttpRoutes(services, loadSecrets(env.secrets).internalKey),
  });
});
