// Identity through the gateway, as a client calls it. The same suite runs against both modes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, type Platform, type PlatformFactory, STRONG_PASSWORD, uniqueEmail } from './harness.ts';

const SESSION = `accessToken refreshToken role user { id email name } organization { id name }`;

const SIGN_UP = `mutation($input: SignUpInput!) { signUp(input: $input) {
  __typename
  ... on Session { ${SESSION} }
  ... on WeakPasswordError { message code reasons }
  ... on ValidationError { message code issues { path message } }
  ... on Error { message code }
} }`;
const LOG_IN = `mutation($input: LogInInput!) { logIn(input: $input) { __typename ... on Session { ${SESSION} } ... on Error { message code } } }`;
const REFRESH = `mutation($t: String!) { refreshSession(input: { refreshToken: $t }) {
  __typename ... on Session { ${SESSION} } ... on InvalidTokenError { reason } ... on Error { code } } }`;
const LOG_OUT = `mutation($t: String!) { logOut(input: { refreshToken: $t }) { __typename ... on LogOutResult { loggedOut } } }`;
const ME = `{ me { actorType apiKeyId role scopes user { id email } organization { id name } } }`;
const CREATE_KEY = `mutation($name: String!, $scopes: [String!]!) { createApiKey(input: { name: $name, scopes: $scopes }) {
  __typename ... on CreatedApiKey { secret apiKey { id prefix scopes } } ... on ForbiddenError { required } ... on Error { message code } } }`;
const REVOKE_KEY = `mutation($id: ID!) { revokeApiKey(input: { id: $id }) { __typename ... on ApiKey { id revokedAt } ... on Error { code } } }`;
const API_KEYS = `{ apiKeys(first: 10) { totalCount edges { node { id name prefix scopes lastUsedAt revokedAt } } } }`;
const MEMBERS = `{ members { totalCount edges { node { role user { email } } } } }`;
const INVITE = `mutation($email: EmailAddress!, $role: Role!) { inviteMember(input: { email: $email, role: $role }) {
  __typename ... on Invitation { id token role } ... on ForbiddenError { required } ... on Error { code } } }`;
const ACCEPT = `mutation($input: AcceptInvitationInput!) { acceptInvitation(input: $input) {
  __typename ... on Session { ${SESSION} } ... on Error { code } } }`;

export async function signUp(url: string, label = 'owner') {
  const email = uniqueEmail(label);
  const result = await gql(url, SIGN_UP, {
    input: { email, password: STRONG_PASSWORD, name: `${label} person`, organizationName: `${label} org` },
  });
  expect(result.data?.signUp.__typename).toBe('Session');
  return { email, session: result.data!.signUp as Record<string, any> };
}

export function identitySuite(name: string, start: PlatformFactory) {
  describe(`identity through the gateway (${name})`, () => {
    let platform: Platform;
    beforeAll(async () => {
      platform = await start();
    });
    afterAll(() => platform?.stop());
    const url = () => platform.url;

    it('signs up, answers me, logs in, refreshes with rotation, and logs out', async () => {
      const { email, session } = await signUp(url());
      expect(session.role).toBe('OWNER');
      expect(session.user.email).toBe(email);

      const me = await gql(url(), ME, {}, { token: session.accessToken });
      expect(me.data?.me).toMatchObject({
        actorType: 'user',
        role: 'OWNER',
        user: { id: session.user.id, email },
        organization: { id: session.organization.id, name: 'owner org' },
      });
      expect(me.data?.me.scopes).toContain('*:admin');

      const login = await gql(url(), LOG_IN, { input: { email: email.toUpperCase(), password: STRONG_PASSWORD } });
      expect(login.data?.logIn.__typename).toBe('Session');
      expect(login.data?.logIn.organization.id).toBe(session.organization.id);

      const refreshed = await gql(url(), REFRESH, { t: login.data!.logIn.refreshToken });
      expect(refreshed.data?.refreshSession.__typename).toBe('Session');
      const next = refreshed.data!.refreshSession;
      expect(next.refreshToken).not.toBe(login.data!.logIn.refreshToken);
      expect((await gql(url(), ME, {}, { token: next.accessToken })).data?.me.user.email).toBe(email);

      // The traded token is spent; presenting it again revokes the whole family, the new one too.
      const reused = await gql(url(), REFRESH, { t: login.data!.logIn.refreshToken });
      expect(reused.data?.refreshSession).toEqual({
        __typename: 'InvalidTokenError',
        reason: 'revoked',
        code: 'INVALID_TOKEN',
      });
      expect((await gql(url(), REFRESH, { t: next.refreshToken })).data?.refreshSession.reason).toBe('revoked');

      // Logging out ends the sign-up session's family.
      expect((await gql(url(), LOG_OUT, { t: session.refreshToken })).data?.logOut).toEqual({
        __typename: 'LogOutResult',
        loggedOut: true,
      });
      expect((await gql(url(), REFRESH, { t: session.refreshToken })).data?.refreshSession.__typename).toBe(
        'InvalidTokenError',
      );
    });

    it('returns typed errors for a weak password, a taken email, bad input and wrong credentials', async () => {
      const weak = await gql(url(), SIGN_UP, {
        input: { email: uniqueEmail(), password: 'short', name: 'A', organizationName: 'B' },
      });
      expect(weak.data?.signUp).toMatchObject({ __typename: 'WeakPasswordError', code: 'WEAK_PASSWORD' });
      expect(weak.data?.signUp.reasons).toContain('use at least 10 characters');

      const { email } = await signUp(url(), 'taken');
      const taken = await gql(url(), SIGN_UP, {
        input: { email, password: STRONG_PASSWORD, name: 'Other', organizationName: 'Other' },
      });
      expect(taken.data?.signUp).toMatchObject({ __typename: 'EmailTakenError', code: 'EMAIL_TAKEN' });

      const blank = await gql(url(), SIGN_UP, {
        input: { email: uniqueEmail(), password: STRONG_PASSWORD, name: '  ', organizationName: 'Org' },
      });
      expect(blank.data?.signUp.__typename).toBe('ValidationError');
      expect(blank.data?.signUp.issues[0].path).toEqual(['input', 'name']);

      const badEmail = await gql(url(), SIGN_UP, {
        input: { email: 'not-an-email', password: STRONG_PASSWORD, name: 'A', organizationName: 'B' },
      });
      expect(badEmail.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');

      // Unknown email and wrong password look the same: nothing tells which addresses exist.
      const wrong = await gql(url(), LOG_IN, { input: { email, password: 'not the password at all' } });
      const unknown = await gql(url(), LOG_IN, { input: { email: uniqueEmail('nobody'), password: STRONG_PASSWORD } });
      expect(wrong.data?.logIn).toEqual(unknown.data?.logIn);
      expect(wrong.data?.logIn).toMatchObject({ __typename: 'InvalidCredentialsError', code: 'INVALID_CREDENTIALS' });
    });

    it('rejects invalid bearer tokens and anonymous access to member data', async () => {
      const garbage = await gql(url(), ME, {}, { token: 'not.a.jwt' });
      expect(garbage.status).toBe(401);
      expect(garbage.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_TOKEN', reason: 'invalid' });
      const anonymous = await gql(url(), ME);
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect(anonymous.data).toBeNull();
    });

    it('creates an API key shown once, authenticates with it, records its use, and revokes it', async () => {
      const { session } = await signUp(url(), 'integrator');
      const created = await gql(
        url(),
        CREATE_KEY,
        { name: 'CI sync', scopes: ['identity:read'] },
        { token: session.accessToken },
      );
      expect(created.data?.createApiKey.__typename).toBe('CreatedApiKey');
      const { secret, apiKey } = created.data!.createApiKey;
      expect(secret).toMatch(new RegExp(`^mk_${apiKey.prefix}_`));

      const me = await gql(url(), ME, {}, { token: secret });
      expect(me.data?.me).toMatchObject({
        actorType: 'api_key',
        apiKeyId: apiKey.id,
        role: null,
        scopes: ['identity:read'],
        organization: { id: session.organization.id },
        user: { id: session.user.id },
      });

      const listed = await gql(url(), API_KEYS, {}, { token: session.accessToken });
      expect(listed.data?.apiKeys.totalCount).toBe(1);
      const node = listed.data!.apiKeys.edges[0].node;
      expect(node).toMatchObject({ id: apiKey.id, name: 'CI sync', scopes: ['identity:read'], revokedAt: null });
      expect(node.lastUsedAt).not.toBeNull();
      expect(JSON.stringify(listed.data)).not.toContain(secret.slice(20));

      // A read-only key can't mint keys, and keys never exceed their creator.
      const escalate = await gql(url(), CREATE_KEY, { name: 'more', scopes: ['*:admin'] }, { token: secret });
      expect(escalate.data?.createApiKey.__typename).toBe('ForbiddenError');

      const badScope = await gql(
        url(),
        CREATE_KEY,
        { name: 'bad', scopes: ['everything'] },
        { token: session.accessToken },
      );
      expect(badScope.data?.createApiKey.__typename).toBe('ValidationError');

      const revoked = await gql(url(), REVOKE_KEY, { id: apiKey.id }, { token: session.accessToken });
      expect(revoked.data?.revokeApiKey.__typename).toBe('ApiKey');
      const after = await gql(url(), ME, {}, { token: secret });
      expect(after.status).toBe(401);
      expect(after.errors?.[0]?.extensions?.code).toBe('INVALID_TOKEN');
    });

    it('invites a member with a role, who joins and is held to that role', async () => {
      const { session: owner } = await signUp(url(), 'team');
      const email = uniqueEmail('editor');
      const invite = await gql(url(), INVITE, { email, role: 'EDITOR' }, { token: owner.accessToken });
      expect(invite.data?.inviteMember).toMatchObject({ __typename: 'Invitation', role: 'EDITOR' });
      const accepted = await gql(url(), ACCEPT, {
        input: { token: invite.data!.inviteMember.token, name: 'Eddie', password: STRONG_PASSWORD },
      });
      expect(accepted.data?.acceptInvitation).toMatchObject({
        __typename: 'Session',
        role: 'EDITOR',
        organization: { id: owner.organization.id },
      });
      const editor = accepted.data!.acceptInvitation;

      const again = await gql(url(), ACCEPT, {
        input: { token: invite.data!.inviteMember.token, name: 'X', password: STRONG_PASSWORD },
      });
      expect(again.data?.acceptInvitation.__typename).toBe('InvalidTokenError');

      const members = await gql(url(), MEMBERS, {}, { token: editor.accessToken });
      expect(members.data?.members.totalCount).toBe(2);
      const forbidden = await gql(
        url(),
        INVITE,
        { email: uniqueEmail(), role: 'VIEWER' },
        { token: editor.accessToken },
      );
      expect(forbidden.data?.inviteMember).toMatchObject({ __typename: 'ForbiddenError', required: 'identity:admin' });
      const keyForbidden = await gql(
        url(),
        CREATE_KEY,
        { name: 'k', scopes: ['identity:read'] },
        { token: editor.accessToken },
      );
      expect(keyForbidden.data?.createApiKey.__typename).toBe('ForbiddenError');
    });

    it("never lets organization A see or change organization B's members or keys", async () => {
      const a = (await signUp(url(), 'tenant-a')).session;
      const b = (await signUp(url(), 'tenant-b')).session;
      const bKey = (
        await gql(url(), CREATE_KEY, { name: 'b key', scopes: ['identity:read'] }, { token: b.accessToken })
      ).data!.createApiKey;
      const aKey = (
        await gql(
          url(),
          CREATE_KEY,
          { name: 'a key', scopes: ['*:read', '*:write', '*:admin'] },
          { token: a.accessToken },
        )
      ).data!.createApiKey;

      for (const token of [a.accessToken, aKey.secret]) {
        const members = await gql(url(), MEMBERS, {}, { token });
        expect(members.data?.members.edges.map((e: any) => e.node.user.email)).toEqual([a.user.email]);
        const keys = await gql(url(), API_KEYS, {}, { token });
        expect(keys.data?.apiKeys.edges.map((e: any) => e.node.id)).toEqual([aKey.apiKey.id]);
        const revoke = await gql(url(), REVOKE_KEY, { id: bKey.apiKey.id }, { token });
        expect(revoke.data?.revokeApiKey).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
        const me = await gql(url(), ME, {}, { token });
        expect(me.data?.me.organization.id).toBe(a.organization.id);
      }
      // B's key still works: nothing A did touched it.
      expect((await gql(url(), ME, {}, { token: bKey.secret })).data?.me.organization.id).toBe(b.organization.id);
      // Logging in to an organization one is not a member of fails like a wrong password.
      const cross = await gql(url(), LOG_IN, {
        input: { email: a.user.email, password: STRONG_PASSWORD, organizationId: b.organization.id },
      });
      expect(cross.data?.logIn.__typename).toBe('InvalidCredentialsError');
    });

    it('echoes the correlation id a client sends', async () => {
      const traced = await gql(url(), '{ me { actorType } }', {}, { headers: { 'x-correlation-id': 'trace-123' } });
      expect(traced.headers.get('x-correlation-id')).toBe('trace-123');
    });
  });

  describe(`gateway limits (${name})`, () => {
    let platform: Platform;
    beforeAll(async () => {
      platform = await start({ GATEWAY_MAX_DEPTH: '3', GATEWAY_MAX_COST: '100' });
    });
    afterAll(() => platform?.stop());

    it('refuses too deep and too costly queries with typed errors, before running them', async () => {
      const { session } = await signUp(platform.url, 'limits');
      const shallow = await gql(platform.url, '{ me { user { email } } }', {}, { token: session.accessToken });
      expect(shallow.data?.me.user.email).toBe(session.user.email);
      const deep = await gql(platform.url, '{ apiKeys { edges { node { id } } } }', {}, { token: session.accessToken });
      expect(deep.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_DEEP', depth: 4, limit: 3 });
      expect(deep.data).toBeUndefined();
      const aliases = Array.from({ length: 20 }, (_, i) => `u${i}: me { user { id email name createdAt } }`);
      const costly = await gql(platform.url, `{ ${aliases.join(' ')} }`, {}, { token: session.accessToken });
      expect(costly.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', limit: 100 });
    });
  });
}
