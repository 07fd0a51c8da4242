// The integrations context as the runtime wires it (cluster: src/index.ts; embedded: one process).
import { fileURLToPath } from 'node:url';
import type { ContextModule } from '@mauntic/platform';
import { createIntegrationsServices, type IntegrationsServices } from './app/services.ts';
import { outbox } from './db/schema.ts';
import { schema } from './graphql/index.ts';

export function integrationsModule(): ContextModule<IntegrationsServices> {
  return {
    name: 'integrations',
    schema,
    migrations: { schema: 'integrations', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) },
    outbox,
    createServices: (deps) => createIntegrationsServices({ handle: deps.handle, logger: deps.logger }, deps.queue),
    jobs: (services) => (services.dedupWindow ? [services.dedupWindow.job] : []),
    onStart: async (services) => {
      await services.dedupWindow?.schedule(0);
    },
  };
}

export { integrationsRoutes, SEGMENT_PATHS } from './http/routes.ts';
export type { IntegrationsServices };
