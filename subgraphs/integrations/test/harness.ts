// Integrations use cases on a real database (Postgres or PGlite).
import { newId, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import { createLogger, type DatabaseHandle, openDatabase, runMigrations } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { createIntegrationsServices, type IntegrationsServices } from '../src/app/services.ts';
import { integrationsModule } from '../src/module.ts';

export const DATABASES = [
  ['postgres', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 5 })],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

const logger = createLogger('integrations-test', 'silent');

export async function openIntegrations(open: () => Promise<DatabaseHandle>) {
  const handle = await open();
  await runMigrations(handle, integrationsModule().migrations);
  const services: IntegrationsServices = createIntegrationsServices({ handle, logger });
  return { handle, services, close: () => handle.close() };
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

/** The Authorization header Segment's clients send: the write key as the Basic user, no password. */
export const basic = (writeKey: string) => `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
