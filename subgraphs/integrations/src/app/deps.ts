import type { DatabaseHandle, EncryptionKey, EventBus, Logger, OutboundGuard } from '@mauntic/platform';

export interface IntegrationsDeps {
  handle: DatabaseHandle;
  logger: Logger;
  /** Seals webhook signing secrets (INTEGRATIONS_ENCRYPTION_KEY). */
  encryptionKey: EncryptionKey;
  /** Where webhook URLs may point; unset refuses every private address. */
  outbound?: OutboundGuard;
  /** Webhook endpoints an organization may have (WEBHOOK_MAX_ENDPOINTS); 25 when unset. */
  maxWebhookEndpoints?: number;
  /**
   * A Kafka bus the ingestion endpoint publishes Segment calls to directly, instead of through the
   * outbox (see ingest.ts); without one (embedded, the local bus) calls go through the outbox.
   */
  ingestBus?: EventBus;
  now?: () => Date;
}
