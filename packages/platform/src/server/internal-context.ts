// The gateway passes who is calling to subgraphs as a short-lived HS256 JWT in one header.
// Subgraphs accept no call without a valid one: a subgraph reached directly, bypassing the
// gateway, serves nobody.
import { ACCESS, type RequestContext } from '@mauntic/kernel';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

export const INTERNAL_CONTEXT_HEADER = 'x-mauntic-context';
export const CORRELATION_HEADER = 'x-correlation-id';

const ISSUER = 'mauntic-gateway';
const AUDIENCE = 'mauntic-subgraph';
const TTL_SECONDS = 60;

const claimsSchema = z.object({
  cid: z.string().min(1).max(200),
  act: z.discriminatedUnion('type', [
    z.object({ type: z.literal('anonymous') }),
    z.object({ type: z.literal('user'), id: z.string() }),
    z.object({ type: z.literal('api_key'), id: z.string(), createdBy: z.string() }),
    z.object({ type: z.literal('system'), id: z.string() }),
  ]),
  org: z.string().optional(),
  role: z.enum(['owner', 'admin', 'editor', 'viewer']).optional(),
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

export async function signInternalContext(context: RequestContext, key: Uint8Array): Promise<string> {
  return new SignJWT({
    cid: context.correlationId,
    act: context.actor,
    ...(context.organizationId ? { org: context.organizationId } : {}),
    ...(context.role ? { role: context.role } : {}),
    scp: context.scopes,
  })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${TTL_SECONDS}s`)
    .sign(key);
}

export async function verifyInternalContext(token: string | undefined, key: Uint8Array): Promise<RequestContext> {
  if (!token) throw new InvalidInternalContextError('missing');
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] }));
  } catch (error) {
    throw new InvalidInternalContextError((error as Error).message);
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success) throw new InvalidInternalContextError('malformed claims');
  const c = claims.data;
  return {
    correlationId: c.cid,
    actor: c.act,
    ...(c.org ? { organizationId: c.org as RequestContext['organizationId'] } : {}),
    ...(c.role ? { role: c.role } : {}),
    scopes: c.scp as RequestContext['scopes'],
  };
}
