// CRM use cases on a real database (Postgres or PGlite), with the local job queue.
import { fileURLToPath } from 'node:url';
import { newId, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, LocalJobQueue, openDatabase, runMigrations } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { type CrmServices, createCrmServices } from '../src/app/services';

export const DATABASES = [
  ['postgres', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 5 })],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

export async function openCrm(
  open: () => Promise<DatabaseHandle>,
  now: () => Date = () => new Date(),
  options: { refreshIntervalMs?: number } = {},
) {
  const handle = await open();
  await runMigrations(handle, { schema: 'crm', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) });
  const logger = createLogger('crm-test', 'silent');
  const queue = new LocalJobQueue({ logger });
  const services: CrmServices = createCrmServices({ handle, queue, logger, now, ...options });
  for (const job of services.jobs()) queue.register(job);
  await queue.start();
  return {
    handle,
    services,
    close: async () => {
      await queue.stop();
      await handle.close();
    },
  };
}

/** A fresh organization and an owner-like caller for it. */
export function newOrg(): RequestContext & { organizationId: OrganizationId } {
  return {
    correlationId: newId(),
    actor: { type: 'user', id: newId() },
    organizationId: newId() as OrganizationId,
    role: 'owner',
    scopes: ['*:read', '*:write', '*:admin'],
  };
}
