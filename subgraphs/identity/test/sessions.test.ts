// Accounts and sessions as the use cases give them: sign-up, log-in, refresh-token rotation with
// reuse detection, and log-out, on a real database.
import { unwrap, ValidationError } from '@mauntic/kernel';
import { pageWindow, verifyAccessToken } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EmailTakenError,
  InvalidCredentialsError,
  InvalidTokenError,
  WeakPasswordError,
} from '../src/domain/errors.ts';
import {
  addMember,
  anonymous,
  DATABASES,
  failure,
  type Identity,
  openIdentity,
  outboxTypes,
  STRONG_PASSWORD,
  signUpOwner,
  uniqueEmail,
} from './harness.ts';

describe.each(DATABASES)('sessions (%s)', (_name, open) => {
  let identity: Identity;
  beforeAll(async () => {
    identity = await openIdentity(open);
  });
  afterAll(() => identity?.close());

  const signUp = (input: { email: string; password: string; name: string; organizationName: string }) =>
    identity.services.signUp(anonymous(), input);
  const logIn = (input: { email: string; password: string; organizationId?: string }) =>
    identity.services.logIn(anonymous(), input);
  const refresh = (refreshToken: string) => identity.services.refreshSession(anonymous(), { refreshToken });
  /** The reason a refresh was refused. */
  const refusal = async (refreshToken: string) => {
    const error = failure(await refresh(refreshToken));
    expect(error).toBeInstanceOf(InvalidTokenError);
    return (error as InvalidTokenError).reason;
  };
  const familyOf = async (userId: string) =>
    identity.handle.rows<{ revoked: boolean; rotated: boolean }>(
      sql`select revoked_at is not null as revoked, rotated_at is not null as rotated
          from identity.refresh_tokens where user_id = ${userId}::uuid order by created_at`,
    );

  describe('sign-up', () => {
    it('creates the account, an organization it owns, and a signed-in session, with their events', async () => {
      const { email, session, ctx } = await signUpOwner(identity, 'founder');
      expect(session.role).toBe('owner');
      expect(ctx).toMatchObject({
        actor: { type: 'user', id: session.userId },
        organizationId: session.organizationId,
      });
      expect(session.refreshToken).toMatch(/^rt_/);
      expect(session.refreshTokenExpiresAt.getTime()).toBeGreaterThan(session.accessTokenExpiresAt.getTime());

      const members = unwrap(await identity.services.listMembers(ctx, pageWindow({ first: 10 })));
      expect(members.edges.map((e) => [e.node.userId, e.node.role])).toEqual([[session.userId, 'owner']]);
      const organization = unwrap(await identity.services.findOrganization(ctx, session.organizationId));
      expect(organization).toMatchObject({ name: 'founder org', slug: expect.stringMatching(/^founder-org-/) });
      expect(unwrap(await identity.services.findMemberUser(ctx, session.userId))?.email).toBe(email);

      // The password is stored as an argon2id hash, and the refresh token only as a hash.
      const [stored] = await identity.handle.rows<{ password_hash: string }>(
        sql`select password_hash from identity.users where id = ${session.userId}::uuid`,
      );
      expect(stored?.password_hash).toMatch(/^\$argon2id\$/);
      const tokens = await identity.handle.rows<{ token_hash: string }>(
        sql`select token_hash from identity.refresh_tokens where user_id = ${session.userId}::uuid`,
      );
      expect(tokens).toHaveLength(1);
      expect(tokens[0]?.token_hash).not.toContain(session.refreshToken.slice(3));

      expect(await outboxTypes(identity, session.organizationId)).toEqual([
        'identity.user.created',
        'identity.organization.created',
        'identity.member.added',
      ]);
    });

    it("refuses a password made of the person's own address and name, and writes nothing", async () => {
      const email = uniqueEmail('weak');
      const password = `${email.split('@')[0]} Grace Hopper`;
      const error = failure(await signUp({ email, password, name: 'Grace Hopper', organizationName: 'W' }));
      expect(error).toBeInstanceOf(WeakPasswordError);
      expect((error as WeakPasswordError).reasons).toEqual(['do not use your email address', 'do not use your name']);
      expect(failure(await logIn({ email, password }))).toBeInstanceOf(InvalidCredentialsError);
    });

    it('refuses an address that already has an account, whatever its case', async () => {
      const { email } = await signUpOwner(identity, 'taken');
      const error = failure(
        await signUp({ email: email.toUpperCase(), password: STRONG_PASSWORD, name: 'Other', organizationName: 'O' }),
      );
      expect(error).toBeInstanceOf(EmailTakenError);
      expect(error.code).toBe('EMAIL_TAKEN');
    });

    it('names each invalid field of the input', async () => {
      const error = failure(
        await signUp({ email: 'nope', password: STRONG_PASSWORD, name: ' ', organizationName: '' }),
      );
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((i) => i.path).sort()).toEqual([
        ['input', 'email'],
        ['input', 'name'],
        ['input', 'organizationName'],
      ]);
    });
  });

  describe('log-in', () => {
    it('opens a session for the oldest membership, or the organization asked for', async () => {
      const first = await signUpOwner(identity, 'login');
      const second = await signUpOwner(identity, 'other-team');
      // The same person joins a second organization as an editor.
      const { token } = unwrap(
        await identity.services.inviteMember(second.ctx, { email: first.email, role: 'editor' }),
      );
      unwrap(await identity.services.acceptInvitation(first.ctx, { token }));

      const plain = unwrap(await logIn({ email: first.email.toUpperCase(), password: STRONG_PASSWORD }));
      expect(plain).toMatchObject({ userId: first.session.userId, organizationId: first.session.organizationId });
      expect(plain.role).toBe('owner');
      const chosen = unwrap(
        await logIn({ email: first.email, password: STRONG_PASSWORD, organizationId: second.session.organizationId }),
      );
      expect(chosen).toMatchObject({ organizationId: second.session.organizationId, role: 'editor' });
      const claims = await verifyAccessToken(chosen.accessToken, identity.deps.jwtKey);
      expect(claims.ok && claims.claims).toEqual({
        userId: first.session.userId,
        organizationId: second.session.organizationId,
        role: 'editor',
      });
    });

    it('gives one answer for an unknown address, a wrong password and a foreign organization', async () => {
      const { email } = await signUpOwner(identity, 'probe');
      const stranger = await signUpOwner(identity, 'stranger');
      const answers = [
        failure(await logIn({ email: uniqueEmail('nobody'), password: STRONG_PASSWORD })),
        failure(await logIn({ email, password: `${STRONG_PASSWORD}!` })),
        failure(await logIn({ email, password: STRONG_PASSWORD, organizationId: stranger.session.organizationId })),
      ];
      for (const error of answers) {
        expect(error).toBeInstanceOf(InvalidCredentialsError);
        expect(error.message).toBe(answers[0]!.message);
      }
    });
  });

  describe('refresh', () => {
    it('trades a refresh token for a new session once; a second use revokes the whole login', async () => {
      const { email } = await signUpOwner(identity, 'rotate');
      const login = unwrap(await logIn({ email, password: STRONG_PASSWORD }));
      const next = unwrap(await refresh(login.refreshToken));
      expect(next).toMatchObject({ userId: login.userId, organizationId: login.organizationId, role: 'owner' });
      expect(next.refreshToken).not.toBe(login.refreshToken);
      const third = unwrap(await refresh(next.refreshToken));

      // Replaying a spent token: refused, and every token of that login with it.
      expect(await refusal(login.refreshToken)).toBe('revoked');
      expect(await refusal(third.refreshToken)).toBe('revoked');
      // The sign-up's session is another login: untouched.
      expect(await familyOf(login.userId)).toEqual([
        { revoked: false, rotated: false },
        { revoked: true, rotated: true },
        { revoked: true, rotated: true },
        { revoked: true, rotated: false },
      ]);
    });

    it('refuses an unknown and an expired refresh token, and one whose membership has gone', async () => {
      expect(await refusal('rt_unknown')).toBe('invalid');

      const { email } = await signUpOwner(identity, 'short');
      const shortLived = identity.withSettings({ refreshTokenTtlSeconds: 0 });
      const expiring = unwrap(await shortLived.logIn(anonymous(), { email, password: STRONG_PASSWORD }));
      expect(await refusal(expiring.refreshToken)).toBe('expired');

      const owner = await signUpOwner(identity, 'leaving-team');
      const member = await addMember(identity, owner.ctx, 'viewer');
      await identity.handle.rows(sql`delete from identity.memberships where user_id = ${member.session.userId}::uuid`);
      expect(await refusal(member.session.refreshToken)).toBe('revoked');
    });

    it('carries a changed role into the new session', async () => {
      const owner = await signUpOwner(identity, 'promote');
      const member = await addMember(identity, owner.ctx, 'viewer');
      await identity.handle.rows(
        sql`update identity.memberships set role = 'admin' where user_id = ${member.session.userId}::uuid`,
      );
      expect(unwrap(await refresh(member.session.refreshToken)).role).toBe('admin');
    });
  });

  describe('log-out', () => {
    it('revokes the login the refresh token belongs to, and nothing else', async () => {
      const { email, session } = await signUpOwner(identity, 'logout');
      const other = unwrap(await logIn({ email, password: STRONG_PASSWORD }));
      const rotated = unwrap(await refresh(other.refreshToken));
      expect(unwrap(await identity.services.logOut(anonymous(), { refreshToken: other.refreshToken }))).toEqual({
        loggedOut: true,
      });
      // Logging out with the spent token still ends its login: the rotated token is dead too.
      expect(await refusal(rotated.refreshToken)).toBe('revoked');
      expect(unwrap(await refresh(session.refreshToken)).userId).toBe(session.userId);
    });

    it('succeeds for a token it does not know, and refuses an empty one', async () => {
      expect(unwrap(await identity.services.logOut(anonymous(), { refreshToken: 'rt_never-issued' }))).toEqual({
        loggedOut: true,
      });
      expect(failure(await identity.services.logOut(anonymous(), { refreshToken: '' }))).toBeInstanceOf(
        ValidationError,
      );
    });
  });
});
