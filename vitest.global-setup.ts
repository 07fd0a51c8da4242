// Runs once before all suites: a fresh test database with every context's migrations applied.
// The services themselves are started by scripts/test.sh (scripts/services.sh up).
import { campaignModule } from '@mauntic/campaign';
import { crmModule } from '@mauntic/crm';
import { deliveryModule } from '@mauntic/delivery';
import { identityModule } from '@mauntic/identity';
import { journeyModule } from '@mauntic/journey';
import { openDatabase, runMigrations } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import postgres from 'postgres';

export default async function setup() {
  const url = new URL(testServices.databaseUrl);
  const name = url.pathname.slice(1);
  const admin = postgres({
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: 'postgres',
    onnotice: () => {},
  });
  try {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.unsafe(`create database "${name}"`);
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${url.host} (run scripts/services.sh up): ${(error as Error).message}`,
    );
  } finally {
    await admin.end();
  }
  const handle = await openDatabase({ url: testServices.databaseUrl });
  for (const module of [identityModule(), crmModule(), deliveryModule(), journeyModule(), campaignModule()])
    await runMigrations(handle, module.migrations);
  await handle.close();
}
