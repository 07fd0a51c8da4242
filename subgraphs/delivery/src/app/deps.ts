import type { DatabaseHandle, JobQueue, Logger, OutboundGuard } from '@mauntic/platform';

export interface DeliveryDeps {
  handle: DatabaseHandle;
  queue: JobQueue;
  logger: Logger;
  now: () => Date;
  /** AES-256-GCM key for provider credentials (32 bytes). */
  encryptionKey: Buffer;
  /** HMAC key for tracking and unsubscribe tokens. */
  trackingKey: Buffer;
  /** Where recipients reach the platform (tracking, unsubscribe), without a trailing slash. */
  publicBaseUrl: string;
  /**
   * Where the hosts and URLs an organization configures may point (OUTBOUND_ALLOWED_HOSTS). Unset:
   * no loopback, private, link-local or metadata address at all.
   */
  outbound?: OutboundGuard;
  /** How long a send request waits for a contact delivery has not heard of (PENDING_CONTACT_MS by default). */
  pendingContactMs?: number;
}
