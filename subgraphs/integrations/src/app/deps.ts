import type { DatabaseHandle, EncryptionKey, Logger, OutboundGuard } from '@mauntic/platform';

export interface IntegrationsDeps {
  handle: DatabaseHandle;
  logger: Logger;
  /** Seals webhook signing secrets (INTEGRATIONS_ENCRYPTION_KEY). */
  encryptionKey: EncryptionKey;
  /** Where webhook URLs may point; unset refuses every private address. */
  outbound?: OutboundGuard;
  now?: () => Date;
}
