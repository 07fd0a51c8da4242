// `pnpm --filter @mauntic/delivery migrate`: applies delivery's migrations to DATABASE_URL.
import { runMigrateCommand } from '@mauntic/platform';
import { deliveryModule } from './module.ts';

runMigrateCommand(deliveryModule());
