import { fail, ok, type RequestContext, type Result, type ValidationError, validateInput } from '@mauntic/kernel';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { memberships, refreshTokens } from '../db/schema.ts';
import { InvalidTokenError } from '../domain/errors.ts';
import type { IdentityDeps } from './deps.ts';
import { sha256 } from './secrets.ts';
import { issueSession, type Session } from './sessions.ts';

export const refreshSessionInput = z.object({ refreshToken: z.string().min(1).max(200) });

/**
 * Trades a refresh token for a new session and retires it. Presenting a token that was already
 * traded means it leaked: the whole family (every token from that login) is revoked.
 */
export async function refreshSession(
  deps: IdentityDeps,
  _ctx: RequestContext,
  raw: z.input<typeof refreshSessionInput>,
): Promise<Result<Session, ValidationError | InvalidTokenError>> {
  const input = validateInput(refreshSessionInput, raw);
  if (!input.ok) return input;
  const tokenHash = sha256(input.value.refreshToken);

  return deps.handle.db.transaction(async (tx) => {
    const [token] = await tx.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, tokenHash)).for('update');
    if (!token) return fail(new InvalidTokenError('invalid'));
    if (token.revokedAt) return fail(new InvalidTokenError('revoked'));
    if (token.rotatedAt) {
      await tx
        .update(refreshTokens)
        .set({ revokedAt: sql`now()` })
        .where(and(eq(refreshTokens.familyId, token.familyId), isNull(refreshTokens.revokedAt)));
      deps.logger.warn({ familyId: token.familyId, userId: token.userId }, 'refresh token reused; family revoked');
      return fail(new InvalidTokenError('revoked'));
    }
    if (token.expiresAt.getTime() <= Date.now()) return fail(new InvalidTokenError('expired'));

    // The role may have changed (or the membership gone) since the last login.
    const [membership] = await tx
      .select({ role: memberships.role })
      .from(memberships)
      .where(and(eq(memberships.userId, token.userId), eq(memberships.organizationId, token.organizationId)));
    if (!membership) {
      await tx.update(refreshTokens).set({ revokedAt: sql`now()` }).where(eq(refreshTokens.familyId, token.familyId));
      return fail(new InvalidTokenError('revoked'));
    }
    await tx.update(refreshTokens).set({ rotatedAt: sql`now()` }).where(eq(refreshTokens.id, token.id));
    const session = await issueSession(
      tx,
      deps,
      { userId: token.userId, organizationId: token.organizationId, role: membership.role },
      token.familyId,
    );
    return ok(session);
  });
}
