// API keys for integrators: random, shown once, stored as a hash, scoped, revocable.
// Format: mk_<12-char public prefix>_<secret>; the prefix finds the row, the hash proves the key.
import {
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
  type UnauthenticatedError,
  type ValidationError,
  validateInput,
} from '@mauntic/kernel';
import { appendEvents, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { apiKeys, outbox } from '../db/schema.ts';
import { requireCaller, requireUser } from './authorize.ts';
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
): Promise<Result<{ apiKey: ApiKeyRow; secret: string }, ValidationError | UnauthenticatedError | ForbiddenError>> {
  const caller = requireUser(ctx, 'identity:admin');
  if (!caller.ok) return caller;
  const input = validateInput(createApiKeyInput, raw);
  if (!input.ok) return input;
  const scopes = [...new Set(input.value.scopes)] as Scope[];
  // A key never gets more than its creator has.
  const beyond = scopes.find((s) => !hasScope(caller.value.scopes, s));
  if (beyond) return fail(new ForbiddenError(beyond));

  const prefix = randomSecret(9);
  const secret = `mk_${prefix}_${randomSecret(32)}`;
  const [apiKey] = await deps.handle.db
    .insert(apiKeys)
    .values({
      id: newId(),
      organizationId: caller.value.organizationId,
      name: input.value.name,
      prefix,
      secretHash: sha256(secret),
      scopes,
      createdBy: caller.value.userId,
    })
    .returning();
  return ok({ apiKey: apiKey!, secret });
}

export async function revokeApiKey(
  deps: IdentityDeps,
  ctx: RequestContext,
  raw: z.input<typeof revokeApiKeyInput>,
): Promise<Result<ApiKeyRow, ValidationError | UnauthenticatedError | ForbiddenError | NotFoundError>> {
  const caller = requireCaller(ctx, 'identity:admin');
  if (!caller.ok) return caller;
  const input = validateInput(revokeApiKeyInput, raw);
  if (!input.ok) return input;
  return deps.handle.db.transaction(async (tx) => {
    const [revoked] = await tx
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      // Scoped by organization: another organization's key is "not found", never revealed.
      .where(and(eq(apiKeys.id, input.value.id), eq(apiKeys.organizationId, caller.value.organizationId)))
      .returning();
    if (!revoked) return fail(new NotFoundError('ApiKey', input.value.id));
    await appendEvents(tx, outbox, [
      createEvent(catalogue.identity.apiKeyRevoked, {
        organizationId: caller.value.organizationId,
        subjectId: revoked.id,
        correlationId: ctx.correlationId,
        data: { apiKeyId: revoked.id, revokedBy: caller.value.userId },
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
  const caller = requireCaller(ctx, 'identity:read');
  if (!caller.ok) return caller;
  return ok(await pageOfOrganization(deps.handle.db, apiKeys, caller.value.organizationId, window));
}
