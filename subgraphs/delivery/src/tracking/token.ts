// Open, click and unsubscribe tokens in the platform's one signed-token format, bound to the
// purpose `delivery.tracking.v1`. They do not expire: a mail read a year later still tracks and
// unsubscribes. Several keys may be given to verify while rotating: sign with the first, accept any.
import type { Result } from '@mauntic/kernel';
import { type InvalidSignedTokenError, type SigningKey, signedTokens } from '@mauntic/platform';
import { z } from 'zod';

const trackingClaims = z
  .object({
    /** o = open pixel, c = click, u = unsubscribe (one-click and page). */
    k: z.enum(['o', 'c', 'u']),
    /** Message (delivery) id. */
    m: z.string().min(1),
    /** Organization id. */
    o: z.string().min(1),
    /**
     * Index of the tracked link, in click tokens signed before one click token served every link
     * of a message (the index now travels beside the token, see render-message.ts); absent otherwise.
     */
    l: z.number().int().min(0).optional(),
  })
  .refine((t) => t.k === 'c' || t.l === undefined, 'only a click token names a link');

export type TrackingTokenPayload = z.infer<typeof trackingClaims>;
export type TrackingKind = TrackingTokenPayload['k'];
/** The verified payload, as the tracking endpoints use it. */
export type TrackingToken = TrackingTokenPayload;
export type TrackingKey = SigningKey;

export interface TrackingTokens {
  /** Throws a TypeError for a payload that describes no tracking event. */
  sign(payload: TrackingTokenPayload): string;
  verify(token: string): Result<TrackingToken, InvalidSignedTokenError>;
}

/** The signer for a key set; made once (the renderer signs several tokens a message). */
export function trackingTokens(keys: TrackingKey | readonly TrackingKey[]): TrackingTokens {
  const format = signedTokens({ purpose: 'delivery.tracking.v1', keys, schema: trackingClaims });
  return {
    sign(payload) {
      // The parsed copy holds only the token's fields, so nothing else is signed into it.
      const claims = trackingClaims.safeParse(payload);
      if (!claims.success) throw new TypeError('Invalid tracking token payload');
      return format.sign(claims.data);
    },
    verify: (token) => format.verify(token),
  };
}

// For callers that hold only the key: one signer per key Buffer (the tracking endpoints pass the
// same one on every request). Other key sets, as tests give them, get a signer per call.
const signers = new WeakMap<Uint8Array, TrackingTokens>();
function signerFor(keys: TrackingKey | readonly TrackingKey[]): TrackingTokens {
  if (!(keys instanceof Uint8Array)) return trackingTokens(keys);
  let signer = signers.get(keys);
  if (!signer) {
    signer = trackingTokens(keys);
    signers.set(keys, signer);
  }
  return signer;
}

export const signToken = (payload: TrackingTokenPayload, key: TrackingKey): string => signerFor(key).sign(payload);

export const verifyToken = (
  token: string,
  keys: TrackingKey | readonly TrackingKey[],
): Result<TrackingToken, InvalidSignedTokenError> => signerFor(keys).verify(token);
