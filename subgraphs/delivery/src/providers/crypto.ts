// Provider credentials at rest, sealed by the platform's sealSecret (AES-256-GCM) bound to their
// organization and provider row, so copying a ciphertext to another row makes it fail to decrypt.
import { type EncryptionKey, openSecret, SecretDecryptionError, sealSecret } from '@mauntic/platform';

export {
  type EncryptionKey,
  generateEncryptionKey,
  InvalidEncryptionKeyError,
  parseEncryptionKey,
  SecretDecryptionError,
  type SecretErrorReason,
} from '@mauntic/platform';

/** Which row a secret belongs to. */
export interface SecretContext {
  organizationId: string;
  providerId: string;
}

const bound = (context: SecretContext) =>
  ['mauntic.delivery.provider-secret', context.organizationId, context.providerId] as const;

export const encryptSecret = (plaintext: string, key: EncryptionKey, context: SecretContext): string =>
  sealSecret(plaintext, key, bound(context));

/**
 * Decrypts a value from encryptSecret. Several keys may be given during a key rotation: the first
 * that authenticates wins. Throws SecretDecryptionError on any tampering or mismatch.
 */
export const decryptSecret = (
  sealed: string,
  keys: EncryptionKey | readonly EncryptionKey[],
  context: SecretContext,
): string => openSecret(sealed, keys, bound(context));

/** Seals a provider's secret fields as one value. */
export function encryptSecrets(secrets: Record<string, string>, key: EncryptionKey, context: SecretContext): string {
  return encryptSecret(JSON.stringify(secrets), key, context);
}

export function decryptSecrets(
  sealed: string,
  keys: EncryptionKey | readonly EncryptionKey[],
  context: SecretContext,
): Record<string, string> {
  const parsed: unknown = JSON.parse(decryptSecret(sealed, keys, context));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new SecretDecryptionError('malformed', 'sealed secrets are not an object');
  }
  return parsed as Record<string, string>;
}
