// Who is calling: `Authorization: Bearer <access JWT | API key>`, or nobody.
import {
  anonymousContext,
  newId,
  type OrganizationId,
  type RequestContext,
  ROLE_SCOPES,
  type Scope,
} from '@mauntic/kernel';
import { type AccessClaims, verifyAccessToken } from '@mauntic/platform';
import { GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';

export interface ApiKeyPrincipal {
  apiKeyId: string;
  organizationId: string;
  scopes: Scope[];
  createdBy: string;
}

/** Resolves an API key to its principal, or null when the key is unknown, revoked or malformed. */
export type ApiKeyVerifier = (key: string) => Promise<ApiKeyPrincipal | null>;

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,100}$/;

// A client sends the same access token on every request: verify its signature once, then keep
// the claims until the token expires (at most a minute). A signed token cannot be revoked
// before it expires anyway, so the cache changes nothing a caller can observe.
const TOKEN_CACHE_MS = 60_000;
const verifiedTokens = new LRUCache<string, { claims: AccessClaims; expiresAt: number }>({
  max: 10_000,
  ttl: TOKEN_CACHE_MS,
});

export function correlationIdFrom(header: string | undefined): string {
  return header && CORRELATION_ID.test(header) ? header : newId();
}

const unauthenticated = (message: string, reason: string) =>
  new GraphQLError(message, { extensions: { code: 'INVALID_TOKEN', reason, http: { status: 401 } } });

export async function authenticate(
  authorization: string | undefined,
  correlationId: string,
  deps: { jwtKey: Uint8Array; verifyApiKey: ApiKeyVerifier },
): Promise<RequestContext> {
  return (await authenticateCredential(authorization, correlationId, deps)).caller;
}

/** The caller, and what a long-lived connection (a subscription) re-checks: the token's expiry or the API key. */
export interface Credential {
  caller: RequestContext;
  /** A session token's expiry (ms since the epoch). */
  expiresAt?: number;
  /** An API key, to ask again whether it is still valid. */
  apiKey?: string;
}

export async function authenticateCredential(
  authorization: string | undefined,
  correlationId: string,
  deps: { jwtKey: Uint8Array; verifyApiKey: ApiKeyVerifier },
): Promise<Credential> {
  if (!authorization) return { caller: anonymousContext(correlationId) };
  const match = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  if (!match) throw unauthenticated('Authorization must be "Bearer <token>"', 'invalid');
  const token = match[1]!;

  if (token.startsWith('mk_')) {
    const principal = await deps.verifyApiKey(token);
    if (!principal) throw unauthenticated('The API key is not valid', 'invalid');
    return {
      caller: {
        correlationId,
        actor: { type: 'api_key', id: principal.apiKeyId, createdBy: principal.createdBy },
        organizationId: principal.organizationId as OrganizationId,
        scopes: principal.scopes,
      },
      apiKey: token,
    };
  }

  let verified = verifiedTokens.get(token);
  if (!verified) {
    const check = await verifyAccessToken(token, deps.jwtKey);
    if (!check.ok)
      throw unauthenticated(
        check.reason === 'expired'
          ? 'The access token has expired; refresh the session'
          : 'The access token is not valid',
        check.reason,
      );
    verified = { claims: check.claims, expiresAt: check.expiresAt };
    verifiedTokens.set(token, verified, { ttl: Math.min(TOKEN_CACHE_MS, check.expiresAt - Date.now()) });
  }
  const { claims, expiresAt } = verified;
  return {
    caller: {
      correlationId,
      actor: { type: 'user', id: claims.userId },
      organizationId: claims.organizationId as OrganizationId,
      role: claims.role,
      scopes: [...ROLE_SCOPES[claims.role]],
    },
    expiresAt,
  };
}
