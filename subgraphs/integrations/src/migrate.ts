// `pnpm --filter @mauntic/integrations migrate`: applies the integrations context's migrations to DATABASE_URL.
import { runMigrateCommand } from '@mauntic/platform';
import { integrationsModule } from './module.ts';

runMigrateCommand(integrationsModule());
