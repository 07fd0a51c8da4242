// API keys for integrators: random, shown once, stored as a hash, scoped, revocable.
// Format: mk_<12-char public prefix>_<secret>; the prefix finds the row, the hash proves the key.
import {
  type AccessError,
  authorize,
  catalogue,
  createEvent,
  ForbiddenError,
  fail,
  hasScope,
  isScope,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  type Scope,
  type ValidationError,
} from '@mauntic/kernel';
import { appendEvents, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { apiKeys, outbox } from '../db/schema.ts';
import { authorizeUser } from './authorize.ts';
import type { IdentityDeps } from './deps.ts';
import { randomSecret, sameHash, sha256 } from './secrets.ts';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export const createApiKeyInput = z.object({
  name: z.string().trim().min(1).max(100),
  scopes: z
    .array(z.string().refine(isScope, { message: 'unknown scope (expected <context>:<read|write|admin>)' }))
    .min(1)
    .max(50),
});

export const revokeApiKeyInput = z.object({ id: z.uuid() });

const KEY_PATTERN = /^mk_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/;
const LAST_USED_RESOLUTION_MS = 60_000;

export async function createApiKey(
  deps: IdentityDeps,
  ctx: RequestContext,
  raw: z.input<typeof createApiKeyInput>,
): Promise<Result<{ apiKey: ApiKeyRow; secret: string }, AccessError | ValidationError>> {
  const access = authorizeUser(ctx, 'identity:admin', createApiKeyInput, raw);
  if (!access.ok) return access;
  const { organizationId, userId, input } = access.value;
  const scopes = [...new Set(input.scopes)] as Scope[];
  // A key never gets more than its creator has.
  const beyond = scopes.find((s) => !hasScope(ctx.scopes, s));
  if (beyond) return fail(new ForbiddenError(beyond));

  const prefix = randomSecret(9);
  const secret = `mk_${prefix}_${randomSecret(32)}`;
  const [apiKey] = await deps.handle.db
    .insert(apiKeys)
    .values({
      id: newId(),
      organizationId,
      name: input.name,
      prefix,
      secretHash: sha256(secret),
      scopes,
      createdBy: userId,
    })
    .returning();
  return ok({ apiKey: apiKey!, secret });
}

export async function revokeApiKey(
  deps: IdentityDeps,
  ctx: RequestContext,
  raw: z.input<typeof revokeApiKeyInput>,
): Promise<Result<ApiKeyRow, AccessError | ValidationError | NotFoundError>> {
  const access = authorize(ctx, 'identity:admin', revokeApiKeyInput, raw);
  if (!access.ok) return access;
  const { organizationId, userId, input } = access.value;
  // The event names who revoked the key: a user, or the user behind the API key that did.
  if (!userId) return fail(new ForbiddenError('a user or an API key'));
  return deps.handle.db.transaction(async (tx) => {
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      // Scoped by organization: another organization's key is "not found", never revealed.
      .where(and(eq(apiKeys.id, input.id), eq(apiKeys.organizationId, organizationId)))
      .returning();
    if (!revoked) return fail(new NotFoundError('ApiKey', input.id));
    await appendEvents(tx, outbox, [
      createEvent(catalogue.identity.apiKeyRevoked, {
        organizationId,
        subjectId: revoked.id,
        correlationId: ctx.correlationId,
        data: { apiKeyId: revoked.id, revokedBy: userId },
      }),
    ]);
    return ok(revoked);
  });
}

export interface ApiKeyPrincipal {
  apiKeyId: string;
  organizationId: string;
  scopes: Scope[];
  createdBy: string;
}

/** Checks a presented key. Null for anything malformed, unknown, revoked or not matching. */
export async function verifyApiKey(deps: IdentityDeps, key: string): Promise<ApiKeyPrincipal | null> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return null;
  const [row] = await deps.handle.db.select().from(apiKeys).where(eq(apiKeys.prefix, match[1]!));
  if (!row || row.revokedAt || !sameHash(row.secretHash, sha256(key))) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
    // Coarse on purpose: one write a minute per key, not one per request.
    await deps.handle.db
      .update(apiKeys)
      .set({ lastUsedAt: sql`now()` })
      .where(
        and(
          eq(apiKeys.id, row.id),
          or(isNull(apiKeys.lastUsedAt), lt(apiKeys.lastUsedAt, sql`now() - interval '1 minute'`)),
        ),
      );
  }
  return {
    apiKeyId: row.id,
    organizationId: row.organizationId,
    scopes: row.scopes as Scope[],
    createdBy: row.createdBy,
  };
}

export async function listApiKeys(deps: IdentityDeps, ctx: RequestContext, window: PageWindow) {
  const access = authorize(ctx, 'identity:read');
  if (!access.ok) return access;
  return ok(await pageOfOrganization(deps.handle.db, apiKeys, access.value.organizationId, window));
}
