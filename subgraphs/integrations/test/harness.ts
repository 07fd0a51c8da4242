// Integrations use cases on a real database (Postgres or PGlite).
import { newId, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import {
  createLogger,
  type DatabaseHandle,
  EMBEDDED_OUTBOUND_ALLOWED,
  generateEncryptionKey,
  type OutboundGuard,
  openDatabase,
  outboundGuard,
  parseAllowList,
  parseEncryptionKey,
  runMigrations,
} from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { createIntegrationsServices, type IntegrationsServices } from '../src/app/services.ts';
import { integrationsModule } from '../src/module.ts';

export const DATABASES = [
  ['postgres', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 5 })],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

export const logger = createLogger('integrations-test', (process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
export const encryptionKey = parseEncryptionKey(generateEncryptionKey());
/** Loopback reachable, as in embedded mode: the tests' webhook receivers listen on 127.0.0.1. */
export const LOOPBACK_ALLOWED = outboundGuard({ allow: parseAllowList(EMBEDDED_OUTBOUND_ALLOWED) });

export async function openIntegrations(
  open: () => Promise<DatabaseHandle>,
  outbound: OutboundGuard = LOOPBACK_ALLOWED,
) {
  const handle = await open();
  await runMigrations(handle, integrationsModule().migrations);
  const services: IntegrationsServices = createIntegrationsServices({ handle, logger, encryptionKey, outbound });
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
