import { randomBytes } from 'node:crypto';
import { signInternalContext } from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, type Platform, startClusterPlatform } from './harness';
import { identitySuite, signUp } from './identity-suite';

identitySuite('cluster: separate processes on Postgres, Kafka and Redis', startClusterPlatform);

describe('cluster mode', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startClusterPlatform();
  });
  afterAll(() => platform?.stop());

  it('a subgraph refuses calls that did not come signed from the gateway', async () => {
    const { session } = await signUp(platform.url, 'direct');
    // A client that goes around the gateway, even with a valid user token, gets nothing.
    const direct = await gql(platform.identityUrl!, '{ me { user { email } } }', {}, { token: session.accessToken });
    expect(direct.status).toBe(401);
    expect(direct.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');

    // Nor does one that forges the internal context with a key of its own.
    const forged = await signInternalContext(
      {
        correlationId: 'forged',
        actor: { type: 'user', id: session.user.id },
        organizationId: session.organization.id,
        role: 'owner',
        scopes: ['*:admin', '*:read', '*:write'],
      },
      new TextEncoder().encode(randomBytes(32).toString('hex')),
    );
    const forgedCall = await gql(
      platform.identityUrl!,
      '{ me { user { email } } }',
      {},
      { headers: { 'x-mauntic-context': forged } },
    );
    expect(forgedCall.status).toBe(401);
    expect(forgedCall.data ?? null).toBeNull();
  });
});
