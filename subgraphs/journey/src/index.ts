// The journey subgraph as its own process (cluster mode).
import { runClusterContext, runMain } from '@mauntic/platform';
import { parseJourneyEnvironment } from './environment.ts';
import { journeyModule } from './module.ts';

runMain(async () => {
  const env = parseJourneyEnvironment();
  await runClusterContext(journeyModule(), env, { migrate: env.db.MIGRATE_ON_START });
});
