// The identity subgraph schema over the use cases: who is calling (`me`), members and keys, the
// entities the gateway resolves, and typed errors in mutation payloads.
import { unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addMember,
  anonymous,
  apiKeyContext,
  DATABASES,
  execute,
  type Identity,
  openIdentity,
  STRONG_PASSWORD,
  signUpOwner,
  uniqueEmail,
} from './harness.ts';

type Data = Record<string, any>;

const ME = `{ me { actorType apiKeyId role scopes user { id email } organization { id name } } }`;
const MEMBERS = `query($after: String) { members(first: 1, after: $after) {
  totalCount pageInfo { hasNextPage endCursor } edges { node { role user { email } } } } }`;

describe.each(DATABASES)('the identity subgraph (%s)', (_name, open) => {
  let identity: Identity;
  beforeAll(async () => {
    identity = await openIdentity(open);
  });
  afterAll(() => identity?.close());

  const run = (ctx: Parameters<typeof execute>[1], source: string, variables?: Record<string, unknown>) =>
    execute(identity.services, ctx, source, variables);
  /** The data of a query that must succeed. */
  const data = async (ctx: Parameters<typeof execute>[1], source: string, variables?: Record<string, unknown>) => {
    const result = await run(ctx, source, variables);
    expect(result.errors).toBeUndefined();
    return result.data as Data;
  };

  describe('me', () => {
    it('is the signed-in user, with its role, scopes and organization', async () => {
      const { ctx, session, email } = await signUpOwner(identity, 'me');
      expect((await data(ctx, ME)).me).toEqual({
        actorType: 'user',
        apiKeyId: null,
        role: 'OWNER',
        scopes: ['*:read', '*:write', '*:admin'],
        user: { id: session.userId, email },
        organization: { id: session.organizationId, name: 'me org' },
      });
    });

    it('for an API key: the key, its scopes, no role, and the user who created it', async () => {
      const { ctx, session, email } = await signUpOwner(identity, 'me-key');
      const { apiKey, secret } = unwrap(
        await identity.services.createApiKey(ctx, { name: 'sync', scopes: ['crm:read'] }),
      );
      expect((await data(await apiKeyContext(identity, secret), ME)).me).toEqual({
        actorType: 'api_key',
        apiKeyId: apiKey.id,
        role: null,
        scopes: ['crm:read'],
        user: { id: session.userId, email },
        organization: { id: session.organizationId, name: 'me-key org' },
      });
    });

    it('refuses an anonymous caller', async () => {
      const result = await run(anonymous(), ME);
      expect(result.data).toBeNull();
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    });
  });

  describe('members and keys', () => {
    it('lists the members of the organization, a page at a time', async () => {
      const owner = await signUpOwner(identity, 'team');
      const editor = await addMember(identity, owner.ctx, 'editor');
      const first = (await data(editor.ctx, MEMBERS)).members;
      expect(first.totalCount).toBe(2);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const second = (await data(editor.ctx, MEMBERS, { after: first.pageInfo.endCursor })).members;
      expect(second.pageInfo.hasNextPage).toBe(false);
      expect([...first.edges, ...second.edges].map((e: Data) => [e.node.user.email, e.node.role]).sort()).toEqual(
        [
          [owner.email, 'OWNER'],
          [editor.email, 'EDITOR'],
        ].sort(),
      );
    });

    it('needs identity:read for the member and key lists', async () => {
      const { ctx } = await signUpOwner(identity, 'scoped');
      const { secret } = unwrap(await identity.services.createApiKey(ctx, { name: 'crm only', scopes: ['crm:read'] }));
      const keyCtx = await apiKeyContext(identity, secret);
      for (const query of [MEMBERS, '{ apiKeys { totalCount } }']) {
        const result = await run(keyCtx, query);
        expect(result.data).toBeNull();
        expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
      }
    });

    it('lists keys with the user who created each', async () => {
      const { ctx, email } = await signUpOwner(identity, 'key-list');
      unwrap(await identity.services.createApiKey(ctx, { name: 'first', scopes: ['crm:read'] }));
      unwrap(await identity.services.createApiKey(ctx, { name: 'second', scopes: ['crm:write'] }));
      const { apiKeys } = await data(
        ctx,
        '{ apiKeys { totalCount edges { node { name scopes createdBy { email } } } } }',
      );
      expect(apiKeys).toEqual({
        totalCount: 2,
        edges: [
          { node: { name: 'second', scopes: ['crm:write'], createdBy: { email } } },
          { node: { name: 'first', scopes: ['crm:read'], createdBy: { email } } },
        ],
      });
    });
  });

  describe('entities', () => {
    const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) {
      ... on User { id email } ... on Organization { id name } } }`;

    it("resolves the caller's own organization and its members", async () => {
      const owner = await signUpOwner(identity, 'entities');
      const viewer = await addMember(identity, owner.ctx, 'viewer');
      const { _entities } = await data(viewer.ctx, ENTITIES, {
        r: [
          { __typename: 'User', id: owner.session.userId },
          { __typename: 'Organization', id: owner.session.organizationId },
        ],
      });
      expect(_entities).toEqual([
        { id: owner.session.userId, email: owner.email },
        { id: owner.session.organizationId, name: 'entities org' },
      ]);
    });

    it('refuses an anonymous caller', async () => {
      const owner = await signUpOwner(identity, 'entities-anon');
      const result = await run(anonymous(), ENTITIES, { r: [{ __typename: 'User', id: owner.session.userId }] });
      expect(result.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(JSON.stringify(result.data)).not.toContain(owner.email);
    });
  });

  describe('mutations', () => {
    it('return expected failures as typed errors in the payload', async () => {
      const { ctx } = await signUpOwner(identity, 'payloads');
      const editor = await addMember(identity, ctx, 'editor');
      const weak = await data(
        anonymous(),
        `mutation($e: EmailAddress!) { signUp(input: { email: $e, password: "password123", name: "A", organizationName: "B" }) {
          __typename ... on WeakPasswordError { code reasons } } }`,
        { e: uniqueEmail() },
      );
      expect(weak.signUp).toEqual({
        __typename: 'WeakPasswordError',
        code: 'WEAK_PASSWORD',
        reasons: ['this password is too common'],
      });

      const CREATE = `mutation { createApiKey(input: { name: "k", scopes: ["crm:read"] }) {
        __typename ... on ForbiddenError { required } ... on Error { code } } }`;
      expect((await data(editor.ctx, CREATE)).createApiKey).toEqual({
        __typename: 'ForbiddenError',
        required: 'identity:admin',
        code: 'FORBIDDEN',
      });
      expect((await data(anonymous(), CREATE)).createApiKey).toEqual({
        __typename: 'UnauthenticatedError',
        code: 'UNAUTHENTICATED',
      });
      const revoke = await data(
        ctx,
        `mutation { revokeApiKey(input: { id: "0190a000-0000-7000-8000-000000000000" }) { __typename ... on Error { code } } }`,
      );
      expect(revoke.revokeApiKey).toEqual({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    });

    it('an accepted invitation returns a session with its user and organization', async () => {
      const owner = await signUpOwner(identity, 'welcome');
      const email = uniqueEmail('welcomed');
      const invited = await data(
        owner.ctx,
        `mutation($e: EmailAddress!) { inviteMember(input: { email: $e, role: VIEWER }) {
          __typename ... on Invitation { email role token } } }`,
        { e: email },
      );
      expect(invited.inviteMember).toMatchObject({ __typename: 'Invitation', email, role: 'VIEWER' });
      const accepted = await data(
        anonymous(),
        `mutation($t: String!, $p: String!) { acceptInvitation(input: { token: $t, name: "Val", password: $p }) {
          __typename ... on Session { role user { email name } organization { id } } } }`,
        { t: invited.inviteMember.token, p: STRONG_PASSWORD },
      );
      expect(accepted.acceptInvitation).toEqual({
        __typename: 'Session',
        role: 'VIEWER',
        user: { email, name: 'Val' },
        organization: { id: owner.session.organizationId },
      });
    });
  });
});
