// Access tokens: short-lived HS256 JWTs that identity signs and the gateway verifies.
import { ROLES, type Role } from '@mauntic/kernel';
import { errors, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

const ISSUER = 'mauntic-identity';
const AUDIENCE = 'mauntic-api';

export interface AccessClaims {
  userId: string;
  organizationId: string;
  role: Role;
}

const claimsSchema = z.object({
  sub: z.uuid(),
  org: z.uuid(),
  role: z.enum(ROLES),
  typ: z.literal('access'),
  exp: z.number(),
});

export async function signAccessToken(
  claims: AccessClaims,
  key: Uint8Array,
  ttlSeconds: number,
): Promise<{ token: string; expiresAt: Date }> {
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  const token = await new SignJWT({ org: claims.organizationId, role: claims.role, typ: 'access' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    .sign(key);
  return { token, expiresAt };
}

export type AccessTokenCheck =
  | { ok: true; claims: AccessClaims; expiresAt: number }
  | { ok: false; reason: 'expired' | 'invalid' };

export async function verifyAccessToken(token: string, key: Uint8Array): Promise<AccessTokenCheck> {
  try {
    const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
    const claims = claimsSchema.safeParse(payload);
    if (!claims.success) return { ok: false, reason: 'invalid' };
    return {
      ok: true,
      claims: { userId: claims.data.sub, organizationId: claims.data.org, role: claims.data.role },
      expiresAt: claims.data.exp * 1000,
    };
  } catch (error) {
    return { ok: false, reason: error instanceof errors.JWTExpired ? 'expired' : 'invalid' };
  }
}
