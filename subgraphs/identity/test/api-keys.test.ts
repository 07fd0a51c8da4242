// API keys as the use cases give them: shown once and stored hashed, verified to the principal
// they act for, never wider than their creator, revocable, and their use recorded coarsely.
import type { ForbiddenError, RequestContext } from '@mauntic/kernel';
import { unwrap, ValidationError } from '@mauntic/kernel';
import { pageWindow } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  apiKeyContext,
  DATABASES,
  failure,
  type Identity,
  openIdentity,
  outboxTypes,
  signUpOwner,
} from './harness.ts';

describe.each(DATABASES)('API keys (%s)', (_name, open) => {
  let identity: Identity;
  beforeAll(async () => {
    identity = await openIdentity(open);
  });
  afterAll(() => identity?.close());

  const createKey = (ctx: RequestContext, scopes: string[], name = 'integration') =>
    identity.services.createApiKey(ctx, { name, scopes });
  /** The key's last_used_at in epoch milliseconds (with the database's microseconds), or null. */
  const lastUsedAt = async (id: string) => {
    const [row] = await identity.handle.rows<{ ms: number | null }>(
      sql`select (extract(epoch from last_used_at) * 1000)::float8 as ms from identity.api_keys where id = ${id}::uuid`,
    );
    return row?.ms ?? null;
  };

  it('shows the created key once, keeps only its hash, and verifies it to the organization and creator', async () => {
    const { ctx, session } = await signUpOwner(identity, 'keys');
    const { apiKey, secret } = unwrap(await createKey(ctx, ['crm:read', 'crm:write', 'crm:read']));
    expect(secret).toMatch(new RegExp(`^mk_${apiKey.prefix}_[A-Za-z0-9_-]{43}$`));
    expect(apiKey).toMatchObject({
      organizationId: session.organizationId,
      createdBy: session.userId,
      scopes: ['crm:read', 'crm:write'],
      revokedAt: null,
      lastUsedAt: null,
    });
    const [stored] = await identity.handle.rows<{ row: string }>(
      sql`select to_jsonb(k)::text as row from identity.api_keys k where id = ${apiKey.id}::uuid`,
    );
    expect(stored?.row).not.toContain(secret.slice(-43));

    expect(await identity.services.verifyApiKey(secret)).toEqual({
      apiKeyId: apiKey.id,
      organizationId: session.organizationId,
      scopes: ['crm:read', 'crm:write'],
      createdBy: session.userId,
    });
    // The listing shows the key, never its secret.
    const listed = unwrap(await identity.services.listApiKeys(ctx, pageWindow({ first: 10 })));
    expect(listed.totalCount).toBe(1);
    expect(listed.edges[0]?.node.id).toBe(apiKey.id);
    expect(JSON.stringify(listed)).not.toContain(secret.slice(-43));
  });

  it('verifies nothing malformed, unknown, or with the right prefix and a wrong secret', async () => {
    const { ctx } = await signUpOwner(identity, 'forgery');
    const { secret } = unwrap(await createKey(ctx, ['crm:read']));
    const forged = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    for (const key of [forged, 'mk_short', `${secret}x`, secret.replace(/^mk_/, 'xk_'), ''])
      expect(await identity.services.verifyApiKey(key)).toBeNull();
  });

  it('never gives a key a scope its creator lacks', async () => {
    const { ctx } = await signUpOwner(identity, 'narrow');
    // A session limited to less than its role allows: the key may not exceed the session.
    const limited: RequestContext = { ...ctx, scopes: ['identity:admin', 'crm:read'] };
    expect(failure(await createKey(limited, ['crm:read', 'crm:write']))).toMatchObject({
      code: 'FORBIDDEN',
      required: 'crm:write',
    });
    expect((failure(await createKey(limited, ['*:read'])) as ForbiddenError).required).toBe('*:read');
    expect(unwrap(await createKey(limited, ['crm:read'])).apiKey.scopes).toEqual(['crm:read']);
    const error = failure(await createKey(ctx, ['crm:everything']));
    expect((error as ValidationError).issues[0]?.path).toEqual(['input', 'scopes', '0']);
    expect(unwrap(await identity.services.listApiKeys(ctx, pageWindow({ first: 10 }))).totalCount).toBe(1);
  });

  it('only a signed-in user with identity:admin creates keys; a key creates none', async () => {
    const owner = await signUpOwner(identity, 'creators');
    const editor = await addMember(identity, owner.ctx, 'editor');
    expect((failure(await createKey(editor.ctx, ['crm:read'])) as ForbiddenError).required).toBe('identity:admin');
    const { secret } = unwrap(await createKey(owner.ctx, ['*:read', '*:write', '*:admin']));
    const byKey = failure(await createKey(await apiKeyContext(identity, secret), ['crm:read']));
    expect((byKey as ForbiddenError).required).toBe('a signed-in user');
  });

  it('a revoked key no longer verifies; revoking again keeps the first time', async () => {
    const { ctx, session } = await signUpOwner(identity, 'revoke');
    const { apiKey, secret } = unwrap(await createKey(ctx, ['identity:read']));
    expect(await identity.services.verifyApiKey(secret)).not.toBeNull();
    const revoked = unwrap(await identity.services.revokeApiKey(ctx, { id: apiKey.id }));
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await outboxTypes(identity, session.organizationId)).toContain('identity.api-key.revoked');
    expect(await identity.services.verifyApiKey(secret)).toBeNull();
    const again = unwrap(await identity.services.revokeApiKey(ctx, { id: apiKey.id }));
    expect(again.revokedAt?.getTime()).toBe(revoked.revokedAt?.getTime());
  });

  it('a key holding identity:admin may revoke keys, in the name of its creator', async () => {
    const { ctx, session } = await signUpOwner(identity, 'key-admin');
    const admin = unwrap(await createKey(ctx, ['identity:admin']));
    const target = unwrap(await createKey(ctx, ['crm:read']));
    const reader = unwrap(await createKey(ctx, ['identity:read']));

    const asReader = failure(
      await identity.services.revokeApiKey(await apiKeyContext(identity, reader.secret), { id: target.apiKey.id }),
    );
    expect((asReader as ForbiddenError).required).toBe('identity:admin');
    unwrap(await identity.services.revokeApiKey(await apiKeyContext(identity, admin.secret), { id: target.apiKey.id }));
    expect(await identity.services.verifyApiKey(target.secret)).toBeNull();
    const [event] = await identity.handle.rows<{ data: { apiKeyId: string; revokedBy: string } }>(
      sql`select (envelope::jsonb -> 'data') as data from identity.outbox
          where organization_id = ${session.organizationId}::uuid and type = 'identity.api-key.revoked'`,
    );
    expect(event?.data).toEqual({ apiKeyId: target.apiKey.id, revokedBy: session.userId });
  });

  it('revoking an unknown key is not found, and bad ids are invalid', async () => {
    const { ctx } = await signUpOwner(identity, 'unknown');
    const missing = '0190a000-0000-7000-8000-000000000000';
    expect(failure(await identity.services.revokeApiKey(ctx, { id: missing }))).toMatchObject({
      code: 'NOT_FOUND',
      entity: 'ApiKey',
      id: missing,
    });
    expect(failure(await identity.services.revokeApiKey(ctx, { id: 'nope' }))).toBeInstanceOf(ValidationError);
  });

  it('records when a key was last used, once a minute at most', async () => {
    const { ctx } = await signUpOwner(identity, 'usage');
    const { apiKey, secret } = unwrap(await createKey(ctx, ['crm:read']));
    expect(await lastUsedAt(apiKey.id)).toBeNull();
    await identity.services.verifyApiKey(secret);
    const first = await lastUsedAt(apiKey.id);
    expect(first).not.toBeNull();
    await identity.services.verifyApiKey(secret);
    expect(await lastUsedAt(apiKey.id)).toBe(first);

    // A use more than a minute after the recorded one moves it forward.
    await identity.handle.rows(
      sql`update identity.api_keys set last_used_at = now() - interval '2 minutes' where id = ${apiKey.id}::uuid`,
    );
    const stale = (await lastUsedAt(apiKey.id))!;
    await identity.services.verifyApiKey(secret);
    const moved = (await lastUsedAt(apiKey.id))!;
    expect(moved - stale).toBeGreaterThan(100_000);
    const listed = unwrap(await identity.services.listApiKeys(ctx, pageWindow({ first: 10 })));
    expect(Math.abs(listed.edges[0]!.node.lastUsedAt!.getTime() - moved)).toBeLessThan(1);
  });
});
