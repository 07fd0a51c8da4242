// The campaign subgraph as its own process (cluster mode).
import { runClusterContext, runMain } from '@mauntic/platform';
import { parseCampaignEnvironment } from './environment.ts';
import { campaignModule } from './module.ts';

runMain(async () => {
  const env = parseCampaignEnvironment();
  await runClusterContext(campaignModule(), env, { migrate: env.db.MIGRATE_ON_START });
});
