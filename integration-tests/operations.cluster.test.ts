// Cluster mode as an operator meets it: processes that freeze, get told to stop, or are asked
// for a contact another process has not seen yet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, type Platform, startClusterPlatform } from './harness.ts';

describe('cluster mode: a frozen subgraph', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startClusterPlatform({ GATEWAY_SUBGRAPH_TIMEOUT_MS: '1500' });
  });
  afterAll(() => platform?.stop());

  it('fails its queries within the timeout, naming it, and takes the gateway out of readiness until it answers again', async () => {
    const identity = platform.processes!.identity!.child;
    const readyz = platform.url.replace('/graphql', '/readyz');
    // Identity answers an anonymous caller that it does not know them.
    const answered = async () => (await gql(platform.url, '{ me { actorType } }')).errors?.[0]?.extensions?.code;
    expect(await answered()).toBe('UNAUTHENTICATED');
    expect((await fetch(readyz)).status).toBe(200);

    identity.kill('SIGSTOP');
    try {
      const started = Date.now();
      const frozen = await gql(platform.url, '{ me { actorType } }');
      expect(Date.now() - started).toBeLessThan(5000);
      expect(frozen.errors?.[0]).toMatchObject({
        message: 'Subgraph "identity" did not answer within 1500 ms',
        extensions: { code: 'SUBGRAPH_TIMEOUT', serviceName: 'identity' },
      });
      const unready = await fetch(readyz);
      expect(unready.status).toBe(503);
      expect(((await unready.json()) as { checks: Record<string, string> }).checks.subgraphs).toMatch(
        /identity: no answer within/,
      );
    } finally {
      identity.kill('SIGCONT');
    }
    expect((await fetch(readyz)).status).toBe(200);
    expect(await answered()).toBe('UNAUTHENTICATED');
  });
});
