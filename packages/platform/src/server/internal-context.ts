// The gateway passes who is calling to subgraphs in one header: the context as base64url JSON
// with an expiry, and its HMAC-SHA256 (node:crypto) under INTERNAL_CONTEXT_SECRET. Subgraphs
// accept no call without a valid one: a subgraph reached directly, bypassing the gateway,
// serves nobody. Not a JWT on purpose: this hop happens on every subgraph fetch, and a
// synchronous HMAC costs a few microseconds where a WebCrypto JWS costs about 80.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ACCESS, type RequestContext, ROLES } from '@mauntic/kernel';
import { z } from 'zod';

export const INTERNAL_CONTEXT_HEADER = 'x-mauntic-context';
export const CORRELATION_HEADER = 'x-correlation-id';

const VERSION = 'v1';
const TTL_SECONDS = 60;

const claimsSchema = z.object({
  exp: z.number(),
  cid: z.string().min(1).max(200),
  act: z.discriminatedUnion('type', [
    z.object({ type: z.literal('anonymous') }),
    z.object({ type: z.literal('user'), id: z.string() }),
    z.object({ type: z.literal('api_key'), id: z.string(), createdBy: z.string() }),
    z.object({ type: z.literal('system'), id: z.string() }),
  ]),
  org: z.string().optional(),
  role: z.enum(ROLES).optional(),
  scp: z.array(z.string().regex(new RegExp(`^[a-z*]+:(${ACCESS.join('|')})$`))),
});

export class InvalidInternalContextError extends Error {
  readonly code = 'UNAUTHENTICATED';
  constructor(reason: string) {
    super(`unsigned or invalid internal context: ${reason}`);
    this.name = 'InvalidInternalContextError';
  }
}

export const secretKey = (secret: string) => new TextEncoder().encode(secret);

const mac = (payload: string, key: Uint8Array) => createHmac('sha256', key).update(`${VERSION}.${payload}`).digest();

export function signInternalContext(context: RequestContext, key: Uint8Array): string {
  const payload = Buffer.from(
    JSON.stringify({
      exp: Math.floor(Date.now() / 1000) + TTL_SECONDS,
      cid: context.correlationId,
      act: context.actor,
      ...(context.organizationId ? { org: context.organizationId } : {}),
      ...(context.role ? { role: context.role } : {}),
      scp: context.scopes,
    }),
  ).toString('base64url');
  return `${VERSION}.${payload}.${mac(payload, key).toString('base64url')}`;
}

export function verifyInternalContext(token: string | undefined, key: Uint8Array): RequestContext {
  if (!token) throw new InvalidInternalContextError('missing');
  const [version, payload, signature, extra] = token.split('.');
  if (version !== VERSION || !payload || !signature || extra !== undefined)
    throw new InvalidInternalContextError('malformed');
  const expected = mac(payload, key);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new InvalidInternalContextError('bad signature');
  let claims: z.infer<typeof claimsSchema>;
  try {
    claims = claimsSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
  } catch {
    throw new InvalidInternalContextError('malformed claims');
  }
  if (claims.exp < Math.floor(Date.now() / 1000)) throw new InvalidInternalContextError('expired');
  return {
    correlationId: claims.cid,
    actor: claims.act,
    ...(claims.org ? { organizationId: claims.org as RequestContext['organizationId'] } : {}),
    ...(claims.role ? { role: claims.role } : {}),
    scopes: claims.scp as RequestContext['scopes'],
  };
}
