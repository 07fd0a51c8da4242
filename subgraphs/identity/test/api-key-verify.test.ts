// The route the gateway checks API keys on (cluster mode), served over real HTTP: it answers only
// callers holding a valid signed internal context.
import { randomBytes } from 'node:crypto';
import { unwrap } from '@mauntic/kernel';
import {
  createLogger,
  type RunningHttpServer,
  signInternalContext,
  startHttpServer,
  verifyInternalContext,
} from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { API_KEY_VERIFY_PATH, identityHttpRoutes } from '../src/http/api-key-verify.ts';
import { DATABASES, type Identity, openIdentity, signUpOwner } from './harness.ts';

const GATEWAY = { correlationId: 'gateway', actor: { type: 'system' as const, id: 'gateway' }, scopes: [] };

describe.each(DATABASES)('the API-key verify route (%s)', (_name, open) => {
  let identity: Identity;
  let http: RunningHttpServer;
  const internalKey = randomBytes(32);

  beforeAll(async () => {
    identity = await openIdentity(open);
    http = await startHttpServer(
      {
        service: 'identity-test',
        logger: createLogger('test', 'silent'),
        routes: identityHttpRoutes(identity.services, internalKey),
      },
      0,
      '127.0.0.1',
    );
  });
  afterAll(async () => {
    await http?.close();
    await identity?.close();
  });

  const post = (body: string, context?: string) =>
    fetch(`${http.url}${API_KEY_VERIFY_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(context ? { 'x-mauntic-context': context } : {}) },
      body,
    });
  const signed = () => signInternalContext(GATEWAY, internalKey);

  async function newKey() {
    const { ctx, session } = await signUpOwner(identity, 'verify');
    const { apiKey, secret } = unwrap(await identity.services.createApiKey(ctx, { name: 'k', scopes: ['crm:read'] }));
    return { apiKey, secret, session, ctx };
  }

  it('tells a signed caller who a valid key acts for', async () => {
    const { apiKey, secret, session } = await newKey();
    const response = await post(JSON.stringify({ key: secret }), signed());
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual({
      principal: {
        apiKeyId: apiKey.id,
        organizationId: session.organizationId,
        scopes: ['crm:read'],
        createdBy: session.userId,
      },
    });
  });

  it('answers null for a key that is unknown or revoked', async () => {
    const { apiKey, secret, ctx } = await newKey();
    expect(await (await post(JSON.stringify({ key: `${secret}x` }), signed())).json()).toEqual({ principal: null });
    unwrap(await identity.services.revokeApiKey(ctx, { id: apiKey.id }));
    expect(await (await post(JSON.stringify({ key: secret }), signed())).json()).toEqual({ principal: null });
  });

  it('refuses callers without a valid signed internal context, and reveals nothing to them', async () => {
    const { secret } = await newKey();
    const body = JSON.stringify({ key: secret });
    const forged = signInternalContext(GATEWAY, randomBytes(32));
    // Signed with the right key two minutes ago: the context lived one minute.
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() - 120_000);
    const expired = signed();
    vi.useRealTimers();
    expect(() => verifyInternalContext(expired, internalKey)).toThrow(/expired/);
    for (const context of [undefined, 'garbage', forged, expired]) {
      const response = await post(body, context);
      expect(response.status).toBe(401);
      expect(await response.text()).not.toContain('principal');
    }
  });

  it('answers 400 to a signed caller with a bad body', async () => {
    for (const body of ['', '{}', '{"key": 42}', JSON.stringify({ key: 'k'.repeat(201) }), 'not json']) {
      const response = await post(body, signed());
      expect(response.status, body).toBe(400);
    }
  });
});
