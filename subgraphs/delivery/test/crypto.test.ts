import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decryptSecret,
  decryptSecrets,
  encryptSecret,
  encryptSecrets,
  generateEncryptionKey,
  InvalidEncryptionKeyError,
  parseEncryptionKey,
  SecretDecryptionError,
} from '../src/providers/index.ts';

const key = parseEncryptionKey(generateEncryptionKey());
const row = { organizationId: 'org-1', providerId: 'prov-1' };

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretDecryptionError);
    return (error as SecretDecryptionError).reason;
  }
  throw new Error('expected decryption to fail');
}

describe('provider secret encryption', () => {
  it('round-trips and never repeats a ciphertext', () => {
    const a = encryptSecret('s3cr3t ✓', key, row);
    const b = encryptSecret('s3cr3t ✓', key, row);
    expect(a).toMatch(/^v1:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cr3t');
    expect(decryptSecret(a, key, row)).toBe('s3cr3t ✓');
    expect(decryptSecrets(encryptSecrets({ apiKey: 'k', pass: 'p' }, key, row), key, row)).toEqual({
      apiKey: 'k',
      pass: 'p',
    });
  });

  it('rejects a flipped bit in the ciphertext, the tag or the IV', () => {
    const sealed = encryptSecret('hello world', key, row);
    const parts = sealed.split(':');
    for (const index of [1, 2, 3]) {
      const bytes = Buffer.from(parts[index]!, 'base64url');
      bytes[0]! ^= 1;
      const tampered = parts.map((p, i) => (i === index ? bytes.toString('base64url') : p)).join(':');
      expect(reason(() => decryptSecret(tampered, key, row))).toBe('authentication_failed');
    }
  });

  it("rejects another row's ciphertext: the organization and provider are bound in", () => {
    const sealed = encryptSecret('org-1 token', key, row);
    expect(reason(() => decryptSecret(sealed, key, { organizationId: 'org-2', providerId: 'prov-1' }))).toBe(
      'authentication_failed',
    );
    expect(reason(() => decryptSecret(sealed, key, { organizationId: 'org-1', providerId: 'prov-2' }))).toBe(
      'authentication_failed',
    );
    // The two ids are encoded unambiguously: moving characters between them does not collide.
    const split = encryptSecret('x', key, { organizationId: 'ab', providerId: 'c' });
    expect(reason(() => decryptSecret(split, key, { organizationId: 'a', providerId: 'bc' }))).toBe(
      'authentication_failed',
    );
  });

  it('rejects the wrong key, and accepts the old key during a rotation', () => {
    const oldKey = parseEncryptionKey(randomBytes(32).toString('base64'));
    const sealed = encryptSecret('rotate me', oldKey, row);
    expect(reason(() => decryptSecret(sealed, key, row))).toBe('authentication_failed');
    expect(decryptSecret(sealed, [key, oldKey], row)).toBe('rotate me');
  });

  it('rejects malformed values and unknown versions with their own reasons', () => {
    const sealed = encryptSecret('x', key, row);
    expect(reason(() => decryptSecret('plaintext', key, row))).toBe('malformed');
    expect(reason(() => decryptSecret(sealed.replace(/^v1:/, 'v9:'), key, row))).toBe('unsupported_version');
    expect(reason(() => decryptSecret(sealed.replace(/:[^:]+$/, ':***'), key, row))).toBe('malformed');
    const [v, iv, tag, data] = sealed.split(':');
    expect(reason(() => decryptSecret([v, iv, tag!.slice(0, 10), data].join(':'), key, row))).toBe('malformed');
  });

  it('accepts only 32-byte keys in base64 or base64url', () => {
    const bytes = randomBytes(32);
    expect(parseEncryptionKey(bytes.toString('base64')).equals(bytes)).toBe(true);
    expect(parseEncryptionKey(bytes.toString('base64url')).equals(bytes)).toBe(true);
    expect(() => parseEncryptionKey(undefined)).toThrow(InvalidEncryptionKeyError);
    expect(() => parseEncryptionKey(randomBytes(16).toString('base64'))).toThrow(/32 bytes/);
    expect(() => parseEncryptionKey('not base64!')).toThrow(InvalidEncryptionKeyError);
  });
});
