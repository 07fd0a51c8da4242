import type { DatabaseHandle, EncryptionKey, Logger, OutboundGuard } from '@mauntic/platform';

export interface IntegrationsDeps {
  handle: DatabaseHandle;
  logger: Logger;
  /** Seals webhook signing secrets (INTEGRATIONS_ENCRYPTION_KEY). */
  encryptionKey: EncryptionKey;
  /** Where webhook URLs may point; unset refuses every private address. */
  outbound?: OutboundGuard;
  /** Webhook endpoints an organization may have (WEBHOOK_MAX_ENDPOINTS); 25 when unset. */
  maxWebhookEndpoints?: number;
  now?: () => Date;
}
