// The CRM context as the runtime wires it (cluster: src/index.ts; embedded: one process).
import { fileURLToPath } from 'node:url';
import type { ContextModule } from '@mauntic/platform';
import { type CrmServices, createCrmServices } from './app/services.ts';
import { outbox } from './db/schema.ts';
import { schema } from './graphql/index.ts';

export function crmModule(options: { now?: () => Date; refreshIntervalMs?: number } = {}): ContextModule<CrmServices> {
  return {
    name: 'crm',
    schema,
    migrations: { schema: 'crm', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) },
    outbox,
    createServices: (deps) =>
      createCrmServices({
        handle: deps.handle,
        queue: deps.queue,
        logger: deps.logger,
        now: options.now ?? (() => new Date()),
        signingKey: deps.secrets.internalKey,
        ...(options.refreshIntervalMs ? { refreshIntervalMs: options.refreshIntervalMs } : {}),
      }),
    jobs: (services) => services.jobs(),
    subscriptions: (services) => services.subscriptions(),
    onStart: async (services) => {
      await services.scheduleTimeDependentRefreshes();
    },
  };
}

export { crmHttpRoutes } from './http/contact-export.ts';
export type { CrmServices };
