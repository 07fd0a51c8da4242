// `pnpm --filter @mauntic/identity migrate`: applies identity's migrations to DATABASE_URL.
import {
  createLogger,
  databaseModel,
  openDatabaseFromEnv,
  parseEnvironment,
  runMain,
  runMigrations,
} from '@mauntic/platform';
import { identityModule } from './module';

runMain(async () => {
  const { db } = parseEnvironment({ db: databaseModel });
  const handle = await openDatabaseFromEnv(db, 'identity-migrate');
  const module = identityModule();
  await runMigrations(handle, module.migrations);
  await handle.close();
  createLogger('identity').info({ schema: module.migrations.schema }, 'migrations applied');
});
