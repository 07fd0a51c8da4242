import type { DatabaseHandle, JobQueue, Logger } from '@mauntic/platform';

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
}
