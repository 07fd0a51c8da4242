// Builds an engine over a database: provider directory, renderer, dispatcher. Shared by the
// worker's main(), embedded mode and the benchmark.
import { createDispatcher } from '@mauntic/delivery/dispatch';
import { createProviderDirectory, createRenderer, localOutboxStore } from '@mauntic/delivery/engine-parts';
import type { RateLimiter } from '@mauntic/delivery/providers';
import type { DatabaseHandle, Logger } from '@mauntic/platform';
import { DeliveryEngine, type EngineOptions } from './engine.ts';

export interface CreateEngineOptions
  extends Pick<
    EngineOptions,
    'owner' | 'journalDir' | 'batchSize' | 'lanes' | 'sendConcurrency' | 'leaseMs' | 'pollMs' | 'now'
  > {
  handle: DatabaseHandle;
  logger: Logger;
  limiter: RateLimiter;
  encryptionKey: Buffer;
  trackingKey: Buffer;
  publicBaseUrl: string;
  /** Embedded mode: email without a configured provider goes to the local outbox (/outbox). */
  localOutbox?: boolean;
}

export function createEngine(options: CreateEngineOptions): DeliveryEngine {
  const providers = createProviderDirectory({
    handle: options.handle,
    encryptionKey: options.encryptionKey,
    limiter: options.limiter,
    publicBaseUrl: options.publicBaseUrl,
    ...(options.localOutbox ? { localOutbox: localOutboxStore(options.handle) } : {}),
  });
  const renderer = createRenderer({ trackingKey: options.trackingKey, publicBaseUrl: options.publicBaseUrl });
  const dispatcher = createDispatcher({ handle: options.handle, logger: options.logger, providers, renderer });
  return new DeliveryEngine({ ...options, dispatcher });
}
export { DeliveryEngine } from './engine.ts';
