// The integrations context as the runtime wires it (cluster: src/index.ts; embedded: one process).
import { fileURLToPath } from 'node:url';
import type { ContextModule, EncryptionKey, OutboundGuard } from '@mauntic/platform';
import { createIntegrationsServices, type IntegrationsServices } from './app/services.ts';
import { outbox } from './db/schema.ts';
import { schema } from './graphql/index.ts';

export interface IntegrationsModuleOptions {
  /** 32 bytes: seals webhook signing secrets. */
  encryptionKey: Buffer;
  /** Where webhook URLs may point; unset refuses every private address. */
  outbound?: OutboundGuard;
  /** Webhook endpoints an organization may have (WEBHOOK_MAX_ENDPOINTS). */
  maxWebhookEndpoints?: number;
}

/** Migrations only need the module's name and folder; the key is checked where services start. */
const NO_KEY: IntegrationsModuleOptions = { encryptionKey: Buffer.alloc(0) };

export function integrationsModule(options: IntegrationsModuleOptions = NO_KEY): ContextModule<IntegrationsServices> {
  return {
    name: 'integrations',
    schema,
    migrations: { schema: 'integrations', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) },
    outbox,
    createServices: (deps) => {
      if (options.encryptionKey.length !== 32) throw new Error('integrations needs a 32-byte encryption key');
      return createIntegrationsServices(
        {
          handle: deps.handle,
          logger: deps.logger,
          encryptionKey: options.encryptionKey as EncryptionKey,
          ...(options.outbound ? { outbound: options.outbound } : {}),
          ...(options.maxWebhookEndpoints ? { maxWebhookEndpoints: options.maxWebhookEndpoints } : {}),
          ...(deps.bus.kind === 'kafka' ? { ingestBus: deps.bus } : {}),
        },
        deps.queue,
      );
    },
    jobs: (services) => (services.dedupWindow ? [services.dedupWindow.job] : []),
    onStart: async (services) => {
      await services.dedupWindow?.schedule(0);
    },
  };
}

export { integrationsRoutes, SEGMENT_PATHS } from './http/routes.ts';
export type { IntegrationsServices };
