// `pnpm --filter @mauntic/campaign migrate`: applies the campaign context's migrations to DATABASE_URL.
import { runMigrateCommand } from '@mauntic/platform';
import { campaignModule } from './module.ts';

runMigrateCommand(campaignModule());
