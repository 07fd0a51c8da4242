// The delivery context as the runtime wires it (cluster: src/index.ts; embedded: one process).
import { fileURLToPath } from 'node:url';
import type { ContextModule, OutboundGuard } from '@mauntic/platform';
import type { DeliveryDeps } from './app/deps.ts';
import { createDeliveryServices, type DeliveryServices } from './app/services.ts';
import { outbox } from './db/schema.ts';
import { schema } from './graphql/index.ts';

export interface DeliveryModuleOptions {
  /** Where recipients reach tracking and unsubscribe endpoints. */
  publicBaseUrl: string;
  /** 32 bytes: seals provider credentials. */
  encryptionKey: Buffer;
  /** Signs tracking and unsubscribe tokens. */
  trackingKey: Buffer;
  /** Where organizations' provider hosts and URLs may point; unset refuses every private address. */
  outbound?: OutboundGuard;
  /** How sending domains are checked (environment.ts mailSettings). */
  mail?: DeliveryDeps['mail'];
  /** Scores previews for spam (environment.ts mailSettings). */
  spamChecker?: DeliveryDeps['spamChecker'];
  now?: () => Date;
}

/** Migrations only need the module's name and folder; the keys are checked where services start. */
const NO_KEYS: DeliveryModuleOptions = {
  publicBaseUrl: 'http://localhost:4000',
  encryptionKey: Buffer.alloc(0),
  trackingKey: Buffer.alloc(0),
};

export function deliveryModule(options: DeliveryModuleOptions = NO_KEYS): ContextModule<DeliveryServices> {
  return {
    name: 'delivery',
    schema,
    migrations: { schema: 'delivery', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) },
    outbox,
    createServices: (deps) => {
      if (options.encryptionKey.length !== 32) throw new Error('delivery needs a 32-byte encryption key');
      if (options.trackingKey.length < 32) throw new Error('delivery needs a tracking key of at least 32 bytes');
      return createDeliveryServices({
        handle: deps.handle,
        queue: deps.queue,
        logger: deps.logger,
        now: options.now ?? (() => new Date()),
        encryptionKey: options.encryptionKey,
        trackingKey: options.trackingKey,
        publicBaseUrl: options.publicBaseUrl.replace(/\/+$/, ''),
        outbound: options.outbound,
        ...(options.mail ? { mail: options.mail } : {}),
        ...(options.spamChecker ? { spamChecker: options.spamChecker } : {}),
      });
    },
    subscriptions: (services) => services.subscriptions(),
    jobs: (services) => services.jobs(),
    // Send requests whose deadline passed while nothing ran end now; the next sweep is scheduled.
    onStart: async (services) => {
      await services.expirePendingRequests();
      await services.scheduleSendingDomainRecheck();
    },
  };
}

export type { DeliveryServices };
