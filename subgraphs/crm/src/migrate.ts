// `pnpm --filter @mauntic/crm migrate`: applies CRM's migrations to DATABASE_URL.
import {
  createLogger,
  databaseModel,
  openDatabaseFromEnv,
  parseEnvironment,
  runMain,
  runMigrations,
} from '@mauntic/platform';
import { crmModule } from './module';

runMain(async () => {
  const { db } = parseEnvironment({ db: databaseModel });
  const handle = await openDatabaseFromEnv(db, 'crm-migrate');
  const module = crmModule();
  await runMigrations(handle, module.migrations);
  await handle.close();
  createLogger('crm').info({ schema: module.migrations.schema }, 'migrations applied');
});
