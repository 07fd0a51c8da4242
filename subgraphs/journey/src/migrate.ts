// `pnpm --filter @mauntic/journey migrate`: applies the journey context's migrations to DATABASE_URL.
import { runMigrateCommand } from '@mauntic/platform';
import { journeyModule } from './module.ts';

runMigrateCommand(journeyModule());
