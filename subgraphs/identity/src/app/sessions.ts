// Sessions: an access JWT plus a rotating refresh token whose hash is stored.
import { newId, type Role } from '@mauntic/kernel';
import { type Executor, signAccessToken } from '@mauntic/platform';
import { refreshTokens } from '../db/schema.ts';
import type { IdentityDeps } from './deps.ts';
import { randomSecret, sha256 } from './secrets.ts';

export interface SessionSubject {
  userId: string;
  organizationId: string;
  role: Role;
}

export interface Session extends SessionSubject {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
}

export async function issueSession(
  tx: Executor,
  deps: IdentityDeps,
  subject: SessionSubject,
  familyId: string = newId(),
): Promise<Session> {
  const refreshToken = `rt_${randomSecret()}`;
  const refreshTokenExpiresAt = new Date(Date.now() + deps.refreshTokenTtlSeconds * 1000);
  await tx.insert(refreshTokens).values({
    id: newId(),
    organizationId: subject.organizationId,
    userId: subject.userId,
    familyId,
    tokenHash: sha256(refreshToken),
    expiresAt: refreshTokenExpiresAt,
  });
  const access = await signAccessToken(subject, deps.jwtKey, deps.accessTokenTtlSeconds);
  return {
    ...subject,
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken,
    refreshTokenExpiresAt,
  };
}
