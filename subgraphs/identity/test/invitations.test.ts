// Invitations as the use cases give them: who may invite whom, and a token that is single-use,
// expires, and makes or proves the invited person's account.
import type { ForbiddenError, RequestContext, Role } from '@mauntic/kernel';
import { unwrap, ValidationError } from '@mauntic/kernel';
import { pageWindow } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidCredentialsError, type InvalidTokenError, WeakPasswordError } from '../src/domain/errors.ts';
import {
  addMember,
  anonymous,
  apiKeyContext,
  DATABASES,
  failure,
  type Identity,
  openIdentity,
  outboxTypes,
  STRONG_PASSWORD,
  signUpOwner,
  uniqueEmail,
} from './harness.ts';

describe.each(DATABASES)('invitations (%s)', (_name, open) => {
  let identity: Identity;
  beforeAll(async () => {
    identity = await openIdentity(open);
  });
  afterAll(() => identity?.close());

  const invite = (ctx: RequestContext, role: Role) =>
    identity.services.inviteMember(ctx, { email: uniqueEmail(role), role });
  const accept = (
    token: string,
    extra: { name?: string; password?: string } = { name: 'New Person', password: STRONG_PASSWORD },
  ) => identity.services.acceptInvitation(anonymous(), { token, ...extra });
  const roles = async (ctx: RequestContext) =>
    unwrap(await identity.services.listMembers(ctx, pageWindow({ first: 50 })))
      .edges.map((e) => e.node.role)
      .sort();

  it('an admin invites a person, who joins with that role and is signed in to that organization', async () => {
    const owner = await signUpOwner(identity, 'inviting');
    const admin = await addMember(identity, owner.ctx, 'admin');
    const { invitation, token } = unwrap(await invite(admin.ctx, 'editor'));
    expect(token).toMatch(/^inv_/);
    expect(invitation).toMatchObject({
      organizationId: owner.session.organizationId,
      role: 'editor',
      invitedBy: admin.session.userId,
      acceptedAt: null,
    });
    // Only the token's hash is kept.
    expect(invitation.tokenHash).not.toContain(token.slice(4));

    const session = unwrap(await accept(token));
    expect(session).toMatchObject({ organizationId: owner.session.organizationId, role: 'editor' });
    expect(await roles(owner.ctx)).toEqual(['admin', 'editor', 'owner']);
    expect((await outboxTypes(identity, owner.session.organizationId)).slice(-2)).toEqual([
      'identity.user.created',
      'identity.member.added',
    ]);
  });

  it('only owners invite owners; editors and API keys invite nobody', async () => {
    const owner = await signUpOwner(identity, 'owners');
    const admin = await addMember(identity, owner.ctx, 'admin');
    const editor = await addMember(identity, owner.ctx, 'editor');

    expect(failure(await invite(admin.ctx, 'owner'))).toMatchObject({
      code: 'FORBIDDEN',
      required: 'a role that may grant owner',
    });
    expect(unwrap(await invite(owner.ctx, 'owner')).invitation.role).toBe('owner');

    expect((failure(await invite(editor.ctx, 'viewer')) as ForbiddenError).required).toBe('identity:admin');
    // Even a key holding identity:admin: managing members needs a person.
    const { secret } = unwrap(
      await identity.services.createApiKey(owner.ctx, { name: 'admin key', scopes: ['identity:admin'] }),
    );
    const byKey = failure(await invite(await apiKeyContext(identity, secret), 'viewer'));
    expect((byKey as ForbiddenError).required).toBe('a signed-in user');
    expect(failure(await invite(anonymous(), 'viewer')).code).toBe('UNAUTHENTICATED');

    const invitations = await identity.handle.rows<{ role: string }>(
      sql`select role from identity.invitations where organization_id = ${owner.session.organizationId}::uuid`,
    );
    expect(invitations.map((i) => i.role).sort()).toEqual(['admin', 'editor', 'owner']);
  });

  it('validates the invitation input', async () => {
    const owner = await signUpOwner(identity, 'validating');
    const error = failure(
      await identity.services.inviteMember(owner.ctx, { email: 'not an address', role: 'boss' as 'admin' }),
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((i) => i.path)).toEqual([
      ['input', 'email'],
      ['input', 'role'],
    ]);
  });

  it('a token works once', async () => {
    const owner = await signUpOwner(identity, 'once');
    const { token } = unwrap(await invite(owner.ctx, 'viewer'));
    unwrap(await accept(token));
    expect(failure(await accept(token))).toMatchObject({ code: 'INVALID_TOKEN', reason: 'revoked' });
    // Two acceptances racing: one joins, the other is refused.
    const second = unwrap(await invite(owner.ctx, 'viewer'));
    const results = await Promise.all([accept(second.token), accept(second.token)]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(await roles(owner.ctx)).toEqual(['owner', 'viewer', 'viewer']);
  });

  it('an expired or unknown token joins nobody', async () => {
    const owner = await signUpOwner(identity, 'expiry');
    const expiring = identity.withSettings({ invitationTtlSeconds: 0 });
    const { token } = unwrap(await expiring.inviteMember(owner.ctx, { email: uniqueEmail(), role: 'viewer' }));
    expect((failure(await accept(token)) as InvalidTokenError).reason).toBe('expired');
    expect((failure(await accept(`${token}x`)) as InvalidTokenError).reason).toBe('invalid');
    expect(await roles(owner.ctx)).toEqual(['owner']);
  });

  it('a new account needs a name and a strong password', async () => {
    const owner = await signUpOwner(identity, 'newcomer');
    const { token } = unwrap(await invite(owner.ctx, 'viewer'));
    const missing = failure(await accept(token, { password: STRONG_PASSWORD }));
    expect((missing as ValidationError).issues.map((i) => i.path)).toEqual([['input', 'name']]);
    expect(failure(await accept(token, { name: 'New', password: 'password123' }))).toBeInstanceOf(WeakPasswordError);
    // Refusals spent nothing: the token still works.
    expect(unwrap(await accept(token)).role).toBe('viewer');
  });

  it('an existing account proves it is theirs with its password, or by being signed in as it', async () => {
    const owner = await signUpOwner(identity, 'host');
    const guest = await signUpOwner(identity, 'guest');
    const first = unwrap(await identity.services.inviteMember(owner.ctx, { email: guest.email, role: 'editor' }));
    expect(failure(await accept(first.token, { password: 'not the password' }))).toBeInstanceOf(
      InvalidCredentialsError,
    );
    // Someone else signed in is not the invited person.
    expect(failure(await identity.services.acceptInvitation(owner.ctx, { token: first.token }))).toBeInstanceOf(
      InvalidCredentialsError,
    );
    const joined = unwrap(await accept(first.token, { password: STRONG_PASSWORD }));
    expect(joined).toMatchObject({ userId: guest.session.userId, organizationId: owner.session.organizationId });

    const other = await signUpOwner(identity, 'second-host');
    const second = unwrap(await identity.services.inviteMember(other.ctx, { email: guest.email, role: 'viewer' }));
    const signedIn = unwrap(await identity.services.acceptInvitation(guest.ctx, { token: second.token }));
    expect(signedIn).toMatchObject({ userId: guest.session.userId, organizationId: other.session.organizationId });
    // No second account was made for the address.
    const accounts = await identity.handle.rows(
      sql`select id from identity.users where lower(email) = ${guest.email.toLowerCase()}`,
    );
    expect(accounts).toHaveLength(1);
  });
});
