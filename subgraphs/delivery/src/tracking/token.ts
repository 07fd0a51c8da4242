// Compact signed tracking tokens: base64url(JSON payload) "." base64url(HMAC-SHA256(key, that
// payload text)). The MAC is compared in constant time against the canonical encoding, so no
// byte of a token can change without it being rejected. Several keys may be given to verify
// while rotating: sign with the first, accept any.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { DomainError, fail, ok, type Result } from '@mauntic/kernel';

/** o = open pixel, c = click, u = unsubscribe (one-click and page). */
export type TrackingKind = 'o' | 'c' | 'u';

export interface TrackingTokenPayload {
  k: TrackingKind;
  /** Message (delivery) id. */
  m: string;
  /** Organization id. */
  o: string;
  /**
   * Index of the tracked link, in click tokens signed before one click token served every link of
   * a message (the index now travels beside the token, see render-message.ts); absent otherwise.
   */
  l?: number;
}

/** The verified payload, as the tracking endpoints use it. */
export type TrackingToken = TrackingTokenPayload;

export type TrackingKey = string | Buffer;

export class TrackingTokenError extends DomainError {
  readonly type = 'invalid_tracking_token' as const;
  readonly code = 'INVALID_TRACKING_TOKEN';
  constructor(readonly reason: 'malformed' | 'bad_signature' | 'bad_payload') {
    super(`Invalid tracking token (${reason})`);
  }
}

const TOKEN = /^([A-Za-z0-9_-]{2,2048})\.([A-Za-z0-9_-]{43})$/;
const KINDS: ReadonlySet<string> = new Set(['o', 'c', 'u']);

function keyBytes(key: TrackingKey): Buffer {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (bytes.length < 32) throw new Error('A tracking key needs at least 32 bytes');
  return bytes;
}

const mac = (key: TrackingKey, payload: string): string =>
  createHmac('sha256', keyBytes(key)).update(payload).digest('base64url');

function validPayload(value: unknown): value is TrackingTokenPayload {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const p = value as Record<string, unknown>;
  if (typeof p.k !== 'string' || !KINDS.has(p.k)) return false;
  if (typeof p.m !== 'string' || p.m === '' || typeof p.o !== 'string' || p.o === '') return false;
  if (p.k === 'c') return p.l === undefined || (Number.isSafeInteger(p.l) && (p.l as number) >= 0);
  return p.l === undefined;
}

export function signToken(payload: TrackingTokenPayload, key: TrackingKey): string {
  if (!validPayload(payload)) throw new TypeError('Invalid tracking token payload');
  const compact: TrackingTokenPayload = { k: payload.k, m: payload.m, o: payload.o };
  if (payload.l !== undefined) compact.l = payload.l;
  const body = Buffer.from(JSON.stringify(compact), 'utf8').toString('base64url');
  return `${body}.${mac(key, body)}`;
}

export function verifyToken(
  token: string,
  key: TrackingKey | readonly TrackingKey[],
): Result<TrackingTokenPayload, TrackingTokenError> {
  const match = TOKEN.exec(token);
  if (!match) return fail(new TrackingTokenError('malformed'));
  const [, body, signature] = match as unknown as [string, string, string];
  const given = Buffer.from(signature, 'ascii');
  const keys = Array.isArray(key) ? key : [key as TrackingKey];
  let valid = false;
  for (const k of keys) {
    // Both are 43 ASCII characters, so the comparison is constant-time over equal lengths.
    if (timingSafeEqual(given, Buffer.from(mac(k, body), 'ascii'))) valid = true;
  }
  if (!valid) return fail(new TrackingTokenError('bad_signature'));
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return fail(new TrackingTokenError('bad_payload'));
  }
  if (!validPayload(payload)) return fail(new TrackingTokenError('bad_payload'));
  return ok(payload);
}
