// Delivery use cases on a real database (Postgres or PGlite), with the local job queue.
import { randomBytes } from 'node:crypto';
import { catalogue, createEvent, newId, type OrganizationId, type RequestContext, unwrap } from '@mauntic/kernel';
import {
  createLogger,
  type DatabaseHandle,
  EMBEDDED_OUTBOUND_ALLOWED,
  LocalJobQueue,
  openDatabase,
  outboundGuard,
  parseAllowList,
  runMigrations,
} from '@mauntic/platform';
import { ownTestDatabase, testServices } from '@mauntic/platform/testing';
import { applyCrmEvent } from '../src/app/contacts-projection.ts';
import type { DeliveryDeps } from '../src/app/deps.ts';
import { createDeliveryServices, type DeliveryServices } from '../src/app/services.ts';
import { deliveryModule } from '../src/module.ts';

export const DATABASES = [
  ['postgres', () => openDatabase({ url: testServices.databaseUrl, maxConnections: 8 })],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

/**
 * DATABASES for suites that drive the engine and wait for their own messages: on Postgres a
 * database of their own (dropped on close), as another suite's engine draining the shared test
 * database claims every organization's messages, with its own keys and mail settings.
 */
export const OWN_DATABASES = [
  [
    'postgres',
    async () => {
      const own = await ownTestDatabase();
      const handle = await openDatabase({ url: own.url, maxConnections: 8 });
      const close = handle.close;
      handle.close = async () => {
        await close();
        await own.drop();
      };
      return handle;
    },
  ],
  DATABASES[1],
] as const;

export const PUBLIC_BASE_URL = 'https://mail.example.test';

/** The tests' SMTP and HTTP servers listen on loopback, which providers may reach as in embedded mode. */
export const LOOPBACK_ALLOWED = outboundGuard({ allow: parseAllowList(EMBEDDED_OUTBOUND_ALLOWED) });

export async function openDelivery(
  open: () => Promise<DatabaseHandle>,
  now: () => Date = () => new Date(),
  options: Partial<Pick<DeliveryDeps, 'pendingContactMs' | 'mail' | 'spamChecker'>> = {},
) {
  const handle = await open();
  await runMigrations(handle, deliveryModule().migrations);
  const logger = createLogger('delivery-test', 'silent');
  const queue = new LocalJobQueue({ logger });
  const keys = { encryptionKey: randomBytes(32), trackingKey: randomBytes(32) };
  const services: DeliveryServices = createDeliveryServices({
    handle,
    queue,
    logger,
    now,
    ...keys,
    publicBaseUrl: PUBLIC_BASE_URL,
    outbound: LOOPBACK_ALLOWED,
    ...options,
  });
  for (const job of services.jobs()) queue.register(job);
  await queue.start();
  return {
    handle,
    services,
    keys,
    logger,
    close: async () => {
      await queue.stop();
      await handle.close();
    },
  };
}

/** The organization's default email provider: an SMTP relay on a local port (a test server). */
export async function useSmtpRelay(
  services: DeliveryServices,
  ctx: RequestContext,
  port: number,
  pool?: { maxConnections: number },
) {
  return unwrap(
    await services.createProviderConfig(ctx, {
      name: 'relay',
      kind: 'smtp',
      config: { host: '127.0.0.1', port, ...(pool ? { pool } : {}) },
      isDefault: true,
    }),
  );
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

/** Puts a contact into delivery's copy as CRM's created event would (a new one, or the one with `id`). */
export async function seedContact(
  services: DeliveryServices,
  organizationId: string,
  contact: Partial<{
    email: string | null;
    phone: string | null;
    firstName: string | null;
    lastName: string | null;
    locale: string | null;
    timezone: string | null;
    fields: Record<string, unknown>;
  }> = {},
  id: string = newId(),
): Promise<string> {
  await applyCrmEvent(
    services.deps,
    createEvent(catalogue.crm.contactCreated, {
      organizationId,
      subjectId: id,
      correlationId: newId(),
      data: {
        contact: {
          email: null,
          firstName: null,
          lastName: null,
          phone: null,
          timezone: null,
          locale: null,
          ownerId: null,
          stageId: null,
          points: 0,
          tags: [],
          fields: {},
          ...contact,
        },
      },
    }),
  );
  return id;
}
