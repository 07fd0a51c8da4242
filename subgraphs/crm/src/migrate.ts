// `pnpm --filter @mauntic/crm migrate`: applies CRM's migrations to DATABASE_URL.
import { runMigrateCommand } from '@mauntic/platform';
import { crmModule } from './module.ts';

runMigrateCommand(crmModule());
