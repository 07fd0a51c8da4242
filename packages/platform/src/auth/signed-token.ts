// One format for every token Mauntic signs and later reads back (the gateway -> subgraph
// context, tracking and unsubscribe links, download links):
//   base64url(JSON claims) "." base64url(HMAC-SHA256(key, purpose "." that base64url text))
// The purpose is bound into the MAC, so a token made for one use never passes for another. The
// MAC is compared in constant time; claims are checked against a schema only after it matches;
// an optional `exp` (seconds since the epoch) is enforced. Several keys may verify while a key
// rotates: sign with the first, accept any. Not a JWT on purpose: the internal context is signed
// on every subgraph fetch, and a synchronous HMAC costs microseconds where a WebCrypto JWS costs ~80.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError, fail, ok, type Result } from '@mauntic/kernel';
import type { z } from 'zod';

export type SigningKey = string | Uint8Array;

export type InvalidTokenReason = 'malformed' | 'bad_signature' | 'bad_claims' | 'expired';

export class InvalidSignedTokenError extends DomainError {
  readonly type = 'invalid_signed_token' as const;
  readonly code = 'INVALID_TOKEN';
  constructor(
    readonly purpose: string,
    readonly reason: InvalidTokenReason,
  ) {
    super(`Invalid ${purpose} token (${reason})`);
  }
}

export interface SignedTokenFormat<T> {
  /** Signs the claims; with `expiresAt`, the token is refused from that moment on. */
  sign(claims: T, options?: { expiresAt?: Date }): string;
  verify(token: string | undefined, now?: Date): Result<T, InvalidSignedTokenError>;
}

export interface SignedTokenOptions<T> {
  /** What the token is for, e.g. `crm.contact-export.v1`; part of what is signed. */
  purpose: string;
  /** Signs with the first, verifies with any (rotation). Each at least 32 bytes. */
  keys: SigningKey | readonly SigningKey[];
  /** Checks the claims once the MAC matches; `exp` is removed before it runs. */
  schema: z.ZodType<T>;
  /** Longest token accepted, in characters. */
  maxLength?: number;
}

const MAC_LENGTH = 43; // base64url of 32 bytes, unpadded
const BASE64URL = /^[A-Za-z0-9_-]+$/;

function keyBytes(key: SigningKey): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  if (bytes.length < 32) throw new Error('A signing key needs at least 32 bytes');
  return bytes;
}

export function signedTokens<T extends object>(options: SignedTokenOptions<T>): SignedTokenFormat<T> {
  const keys = (Array.isArray(options.keys) ? options.keys : [options.keys as SigningKey]).map(keyBytes);
  if (!keys.length) throw new Error(`${options.purpose}: no signing key`);
  const prefix = `${options.purpose}.`;
  const maxLength = options.maxLength ?? 4096;
  const mac = (key: Buffer, payload: string) =>
    createHmac('sha256', key).update(prefix).update(payload).digest('base64url');
  const invalid = (reason: InvalidTokenReason) => fail(new InvalidSignedTokenError(options.purpose, reason));

  return {
    sign(claims, signOptions) {
      const body = signOptions?.expiresAt
        ? { ...claims, exp: Math.floor(signOptions.expiresAt.getTime() / 1000) }
        : claims;
      const payload = Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
      return `${payload}.${mac(keys[0]!, payload)}`;
    },

    verify(token, now = new Date()) {
      if (!token || token.length > maxLength) return invalid('malformed');
      const dot = token.indexOf('.');
      const payload = token.slice(0, dot);
      const signature = token.slice(dot + 1);
      if (dot < 1 || signature.length !== MAC_LENGTH || !BASE64URL.test(payload) || !BASE64URL.test(signature))
        return invalid('malformed');
      const given = Buffer.from(signature, 'ascii');
      let valid = false;
      // Every key is tried, so the time taken does not say which one matched.
      for (const key of keys) if (timingSafeEqual(given, Buffer.from(mac(key, payload), 'ascii'))) valid = true;
      if (!valid) return invalid('bad_signature');
      let body: unknown;
      try {
        body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
      } catch {
        return invalid('bad_claims');
      }
      if (!body || typeof body !== 'object' || Array.isArray(body)) return invalid('bad_claims');
      const { exp, ...claims } = body as { exp?: unknown };
      if (exp !== undefined) {
        if (typeof exp !== 'number' || !Number.isFinite(exp)) return invalid('bad_claims');
        if (exp * 1000 <= now.getTime()) return invalid('expired');
      }
      const parsed = options.schema.safeParse(claims);
      return parsed.success ? ok(parsed.data) : invalid('bad_claims');
    },
  };
}
