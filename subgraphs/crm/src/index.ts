// The CRM subgraph as its own process (cluster mode).
import { runClusterContext, runMain } from '@mauntic/platform';
import { parseCrmEnvironment } from './environment.ts';
import { crmHttpRoutes, crmModule } from './module.ts';

runMain(async () => {
  const env = parseCrmEnvironment();
  await runClusterContext(crmModule({ refreshIntervalMs: env.crm.CRM_SEGMENT_REFRESH_SECONDS * 1000 }), env, {
    migrate: env.db.MIGRATE_ON_START,
    routes: crmHttpRoutes,
  });
});
