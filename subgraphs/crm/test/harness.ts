// CRM use cases on a real database (Postgres or PGlite), with the local job queue.
import { fileURLToPath } from 'node:url';
import { newId, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import {
  createLogger,
  type DatabaseHandle,
  KafkaEventBus,
  LocalJobQueue,
  openDatabase,
  runMigrations,
} from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { graphql } from 'graphql';
import { type CrmServices, createCrmServices } from '../src/app/services.ts';
import { schema } from '../src/graphql/index.ts';

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

/**
 * CRM on Postgres with its consumers subscribed on the real broker (topics of its own), for
 * tests that publish other contexts' events and watch CRM apply them.
 */
export async function withKafkaCrm(
  test: (crm: Awaited<ReturnType<typeof openCrm>>, bus: KafkaEventBus) => Promise<void>,
): Promise<void> {
  const crm = await openCrm(DATABASES[0][1]);
  const bus = new KafkaEventBus({
    brokers: testServices.kafkaBrokers,
    clientId: 'crm-test',
    logger: createLogger('crm-test', 'silent'),
    topicPrefix: `${testServices.kafkaTopicPrefix}-${newId().slice(-8)}`,
  });
  try {
    for (const subscription of crm.services.subscriptions()) bus.subscribe(subscription);
    await bus.start();
    await bus.ready();
    await test(crm, bus);
  } finally {
    await bus.stop();
    await crm.close();
  }
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

/** An operation through the CRM subgraph's schema, as `request`'s caller (one request context each). */
export const runGraphql = (
  services: CrmServices,
  request: RequestContext,
  source: string,
  variableValues: Record<string, unknown> = {},
) =>
  graphql({
    schema,
    source,
    variableValues,
    contextValue: { request, services, log: createLogger('crm-test', 'silent') },
  }) as Promise<{ data?: Record<string, any> | null; errors?: readonly { message: string; extensions?: any }[] }>;
