// `pnpm --filter @mauntic/identity migrate`: applies identity's migrations to DATABASE_URL.
import { runMigrateCommand } from '@mauntic/platform';
import { identityModule } from './module.ts';

runMigrateCommand(identityModule());
