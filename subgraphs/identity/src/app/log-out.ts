import { ok, type RequestContext, type Result, type ValidationError, validateInput } from '@mauntic/kernel';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { refreshTokens } from '../db/schema.ts';
import type { IdentityDeps } from './deps.ts';
import { sha256 } from './secrets.ts';

export const logOutInput = z.object({ refreshToken: z.string().min(1).max(200) });

/** Revokes the refresh token's whole family. Unknown tokens succeed too: there is nothing to end. */
export async function logOut(
  deps: IdentityDeps,
  _ctx: RequestContext,
  raw: z.input<typeof logOutInput>,
): Promise<Result<{ loggedOut: true }, ValidationError>> {
  const input = validateInput(logOutInput, raw);
  if (!input.ok) return input;
  const [token] = await deps.handle.db
    .select({ familyId: refreshTokens.familyId })
    .from(refreshTokens)
    .where(eq(refreshTokens.tokenHash, sha256(input.value.refreshToken)));
  if (token) {
    await deps.handle.db
      .update(refreshTokens)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(refreshTokens.familyId, token.familyId), isNull(refreshTokens.revokedAt)));
  }
  return ok({ loggedOut: true });
}
