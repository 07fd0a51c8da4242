// The gateway passes who is calling to subgraphs in one header: the context with a short
// expiry, as a signed token (auth/signed-token.ts) under INTERNAL_CONTEXT_SECRET. Subgraphs
// accept no call without a valid one: a subgraph reached directly, bypassing the gateway,
// serves nobody.
import { ACCESS, type RequestContext, ROLES } from '@mauntic/kernel';
import { z } from 'zod';
import { type SignedTokenFormat, signedTokens } from '../auth/signed-token.ts';

export const INTERNAL_CONTEXT_HEADER = 'x-mauntic-context';
export const CORRELATION_HEADER = 'x-correlation-id';

const PURPOSE = 'internal-context.v1';
const TTL_MS = 60_000;

const claimsSchema = z.object({
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
type Claims = z.infer<typeof claimsSchema>;

export class InvalidInternalContextError extends Error {
  readonly code = 'UNAUTHENTICATED';
  constructor(reason: string) {
    super(`unsigned or invalid internal context: ${reason}`);
    this.name = 'InvalidInternalContextError';
  }
}

export const secretKey = (secret: string) => new TextEncoder().encode(secret);

// One format per key: a process signs with the same key on every call.
const formats = new WeakMap<Uint8Array, SignedTokenFormat<Claims>>();
function formatFor(key: Uint8Array): SignedTokenFormat<Claims> {
  let format = formats.get(key);
  if (!format) {
    format = signedTokens({ purpose: PURPOSE, keys: key, schema: claimsSchema });
    formats.set(key, format);
  }
  return format;
}

export function signInternalContext(context: RequestContext, key: Uint8Array): string {
  const claims: Claims = { cid: context.correlationId, act: context.actor, scp: context.scopes };
  if (context.organizationId) claims.org = context.organizationId;
  if (context.role) claims.role = context.role;
  return formatFor(key).sign(claims, { expiresAt: new Date(Date.now() + TTL_MS) });
}

const REASONS = {
  malformed: 'malformed',
  bad_signature: 'bad signature',
  bad_claims: 'malformed claims',
  expired: 'expired',
};

export function verifyInternalContext(token: string | undefined, key: Uint8Array): RequestContext {
  if (!token) throw new InvalidInternalContextError('missing');
  const verified = formatFor(key).verify(token);
  if (!verified.ok) throw new InvalidInternalContextError(REASONS[verified.error.reason]);
  const claims = verified.value;
  return {
    correlationId: claims.cid,
    actor: claims.act,
    ...(claims.org ? { organizationId: claims.org as RequestContext['organizationId'] } : {}),
    ...(claims.role ? { role: claims.role } : {}),
    scopes: claims.scp as RequestContext['scopes'],
  };
}
