// The delivery context as its engine (workers/delivery-engine) and the send benchmark reach it:
// `@mauntic/delivery/engine`, their one way in. The engine claims rows of `messages`, hands each
// batch to the dispatcher (policy, rendering, providers) and records the outcomes with their events
// in `outbox`; its process is configured with the context's own model and keys (`deliveryModel`,
// `clusterKeys`).
import { type DatabaseHandle, type OutboundGuard, outboundGuard } from '@mauntic/platform';
import { createDispatcher, type DeliveryDispatcher } from './app/dispatch.ts';
import { localOutboxStore } from './app/local-outbox.ts';
import { createProviderDirectory } from './app/provider-directory.ts';
import { createRenderer } from './app/render-message.ts';
import { createMemoryWarmupCounters, createPoolDirectory, type WarmupCounters } from './app/sending-ips.ts';
import { createSigningDirectory } from './app/signing.ts';
import type { PostfixInstance, RateLimiter } from './providers/index.ts';

export type { DeliveryDispatcher, PreparedItem } from './app/dispatch.ts';
// enqueueMessages: the send benchmark queues its audience in bulk, the way send requests do.
export { enqueueMessages, messageFacts } from './app/send.ts';
export { createMemoryWarmupCounters, createRedisWarmupCounters, type WarmupCounters } from './app/sending-ips.ts';
export { messages, outbox } from './db/schema.ts';
// tenantVisibleError: delivery.message.failed tells an organization what Message.error does.
export { tenantVisibleError } from './domain/provider-failure.ts';
export { clusterKeys, deliveryModel } from './environment.ts';
export {
  createMemoryRateLimiter,
  createRedisRateLimiter,
  parseEncryptionKey,
  type RateLimiter,
} from './providers/index.ts';

export interface DeliveryDispatcherOptions {
  handle: DatabaseHandle;
  /** Shared by every engine (Redis) so a provider's rate holds across processes. */
  limiter: RateLimiter;
  /** 32 bytes: opens provider credentials. */
  encryptionKey: Buffer;
  /** Signs the open, click and unsubscribe links of each message. */
  trackingKey: Buffer;
  publicBaseUrl: string;
  /** Embedded mode: email without a configured provider goes to the local outbox (/outbox). */
  localOutbox?: boolean;
  /**
   * Where organizations' provider hosts and URLs may lead when a provider connects
   * (OUTBOUND_ALLOWED_HOSTS). Unset: no loopback, private, link-local or metadata address at all.
   */
  outbound?: OutboundGuard;
  /** The VERP return path domain of email not sent from a sending domain (DELIVERY_RETURN_PATH_DOMAIN). */
  returnPathDomain?: string;
  /** The sending IPs' warm-up counters: in Redis, shared by every engine; in memory when unset (embedded mode). */
  warmupCounters?: WarmupCounters;
  /** The platform's Postfix instances, one per sending IP (DELIVERY_POSTFIX_INSTANCES): where POSTFIX providers send. */
  postfixInstances?: readonly PostfixInstance[];
}

/** Everything the engine does to a claimed batch between the claim and the record. */
export function createDeliveryDispatcher(options: DeliveryDispatcherOptions): DeliveryDispatcher {
  const { handle, publicBaseUrl } = options;
  const providers = createProviderDirectory({
    handle,
    encryptionKey: options.encryptionKey,
    limiter: options.limiter,
    publicBaseUrl,
    outbound: options.outbound ?? outboundGuard(),
    ...(options.localOutbox ? { localOutbox: localOutboxStore(handle) } : {}),
    ...(options.postfixInstances ? { postfixInstances: options.postfixInstances } : {}),
  });
  const renderer = createRenderer({ trackingKey: options.trackingKey, publicBaseUrl });
  const signing = createSigningDirectory({ handle, encryptionKey: options.encryptionKey });
  return createDispatcher({
    handle,
    providers,
    renderer,
    signing,
    pools: createPoolDirectory({ handle, counters: options.warmupCounters ?? createMemoryWarmupCounters() }),
    ...(options.returnPathDomain ? { returnPathDomain: options.returnPathDomain } : {}),
  });
}
