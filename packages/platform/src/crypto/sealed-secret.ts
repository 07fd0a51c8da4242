// Secrets kept at rest that the platform must use again (provider credentials, webhook signing
// secrets): AES-256-GCM with a random 96-bit IV, stored as `v1:<iv>:<tag>:<ciphertext>`
// (base64url). The additional authenticated data names what the secret is and which row it
// belongs to, so a ciphertext copied to another row, or another kind of secret, fails to open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export type EncryptionKey = Buffer & { readonly __encryptionKey: unique symbol };

/** What a sealed secret is bound to: its purpose first, then the ids of its row. */
export type SealContext = readonly string[];

export type SecretErrorReason = 'malformed' | 'unsupported_version' | 'authentication_failed';

export class SecretDecryptionError extends Error {
  constructor(
    readonly reason: SecretErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'SecretDecryptionError';
  }
}

export class InvalidEncryptionKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidEncryptionKeyError';
  }
}

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Parses an encryption key variable: 32 random bytes in base64 or base64url. */
export function parseEncryptionKey(value: string | undefined): EncryptionKey {
  const trimmed = value?.trim() ?? '';
  if (!trimmed) throw new InvalidEncryptionKeyError('the encryption key is empty');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) {
    throw new InvalidEncryptionKeyError('the encryption key is not base64');
  }
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== 32) {
    throw new InvalidEncryptionKeyError(`the encryption key must decode to 32 bytes, got ${key.length}`);
  }
  return key as EncryptionKey;
}

/** A fresh key in the format parseEncryptionKey reads (`openssl rand -base64 32` does the same). */
export function generateEncryptionKey(): string {
  return randomBytes(32).toString('base64');
}

// JSON keeps the parts unambiguous whatever characters they contain.
const aad = (context: SealContext) => Buffer.from(JSON.stringify(context));

export function sealSecret(plaintext: string, key: EncryptionKey, context: SealContext): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad(context));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join(':');
}

/**
 * Opens a value from sealSecret. Several keys may be given during a key rotation: the first that
 * authenticates wins. Throws SecretDecryptionError on any tampering or mismatch.
 */
export function openSecret(
  sealed: string,
  keys: EncryptionKey | readonly EncryptionKey[],
  context: SealContext,
): string {
  const parts = sealed.split(':');
  if (parts.length !== 4) throw new SecretDecryptionError('malformed', 'not a sealed secret');
  const [version, ivText, tagText, dataText] = parts as [string, string, string, string];
  if (version !== VERSION) {
    throw new SecretDecryptionError('unsupported_version', `unsupported secret format ${version}`);
  }
  const base64url = /^[A-Za-z0-9_-]*$/;
  if (![ivText, tagText, dataText].every((part) => base64url.test(part))) {
    throw new SecretDecryptionError('malformed', 'a sealed secret part is not base64url');
  }
  const iv = Buffer.from(ivText, 'base64url');
  const tag = Buffer.from(tagText, 'base64url');
  const data = Buffer.from(dataText, 'base64url');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw new SecretDecryptionError('malformed', 'wrong IV or tag length');
  }
  for (const key of Buffer.isBuffer(keys) ? [keys as EncryptionKey] : (keys as readonly EncryptionKey[])) {
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(aad(context));
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
    } catch {
      // Wrong key, tampered data or another row's ciphertext: GCM cannot tell which. Try the next key.
    }
  }
  throw new SecretDecryptionError(
    'authentication_failed',
    'the secret does not authenticate with this key for this row',
  );
}
