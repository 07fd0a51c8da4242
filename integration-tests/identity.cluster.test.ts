import { randomBytes } from 'node:crypto';
import { signInternalContext } from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, type Platform, startClusterPlatform } from './harness.ts';
import { identitySuite, signUp } from './identity-suite.ts';

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
    const forged = signInternalContext(
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

  it('a subgraph told to stop finishes the request it is serving, then exits cleanly', async () => {
    const metricsUrl = platform.identityUrl!.replace('/graphql', '/metrics');
    const graphqlInFlight = async () => {
      const text = await (await fetch(metricsUrl)).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('mauntic_http_requests_in_flight{') && l.includes('route="/graphql"'));
      return Number(line?.split(' ').at(-1) ?? 0);
    };
    // Sign-up hashes a password with argon2id, so it stays in flight long enough to be seen.
    // SIGTERM goes out only once the subgraph is serving it.
    let inFlight: Promise<{ session: Record<string, any> }> | undefined;
    let exitCode: Promise<number | null> | undefined;
    for (let attempt = 0; attempt < 20 && !exitCode; attempt++) {
      let done = false;
      inFlight = signUp(platform.url, `draining-${attempt}`).finally(() => {
        done = true;
      });
      while (!done && !exitCode) {
        if ((await graphqlInFlight()) > 0) exitCode = platform.terminateIdentity!();
      }
      if (!exitCode) await inFlight;
    }
    expect(exitCode).toBeDefined();
    const { session } = await inFlight!;
    expect(session.user.email).toMatch(/^draining-/);
    expect(await exitCode).toBe(0);
    // Gone now: calls that need identity get an error, not a hang.
    const after = await gql(platform.url, '{ me { actorType } }');
    expect(after.errors?.length).toBeGreaterThan(0);
  });
});
