// The gateway cannot be stalled: what a hostile client tried, each refused at the gateway before
// any subgraph works on it, with the limits every deployment gets by default.
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, type Platform, type PlatformFactory } from './harness.ts';
import { signUp } from './identity-suite.ts';

const aliasesOf = (n: number, selection: string) =>
  `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${selection}`).join(' ')} }`;

export function gatewayLimitsSuite(name: string, start: PlatformFactory) {
  describe(`the gateway cannot be stalled (${name})`, () => {
    let platform: Platform;
    let token: string;
    beforeAll(async () => {
      platform = await start();
      token = (await signUp(platform.url, 'limits')).session.accessToken;
    });
    afterAll(() => platform?.stop());

    it('refuses more than 200 aliases and more than 100 root fields, and answers up to them', async () => {
      const tooMany = await gql(platform.url, aliasesOf(201, 'me { actorType }'), {}, { token });
      expect(tooMany.status).toBe(400);
      expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_MANY_ALIASES', aliases: 201 });
      const allowed = await gql(platform.url, aliasesOf(100, 'me { actorType }'), {}, { token });
      expect(allowed.status).toBe(200);
      expect(Object.keys(allowed.data ?? {})).toHaveLength(100);
      const roots = await gql(platform.url, aliasesOf(101, '__typename'), {}, { token });
      expect(roots.status).toBe(400);
      expect(roots.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_MANY_ROOT_FIELDS');
    });

    it('refuses introspection to anonymous callers and serves the standard introspection query to signed-in ones', async () => {
      const anonymous = await gql(platform.url, '{ __schema { queryType { name } } }');
      expect(anonymous.status).toBe(401);
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
      const signedIn = await gql<{ __schema: { types: unknown[] } }>(
        platform.url,
        getIntrospectionQuery(),
        {},
        { token },
      );
      expect(signedIn.status).toBe(200);
      expect(signedIn.data?.__schema.types.length).toBeGreaterThan(50);
    });

    it('refuses a 30-level chain of fragments that each spread the next twice, at once', async () => {
      let query = '{ me { ...F0 } }\n';
      for (let i = 0; i < 30; i++) query += `fragment F${i} on Viewer { actorType ...F${i + 1} ...F${i + 1} }\n`;
      query += 'fragment F30 on Viewer { role }';
      const started = performance.now();
      const refused = await gql(platform.url, query, {}, { token });
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(refused.status).toBe(400);
      expect(refused.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COSTLY');
    });

    it('costs a whole-organization export by what it scans, each regexp condition on top', async () => {
      const regexps = (n: number) => ({
        or: Array.from({ length: n }, (_, i) => ({ field: 'email', op: 'regexp', value: `^x${i}` })),
      });
      const query = 'query($filter: JSON) { exportContacts(filter: $filter) }';
      // 5,000 for the export and 1,000 a regexp: 16 of them go over the 20,000 a query may cost.
      const refused = await gql(platform.url, query, { filter: regexps(16) }, { token });
      expect(refused.status).toBe(400);
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', cost: 21_000 });
      const answered = await gql(platform.url, query, { filter: regexps(1) }, { token });
      expect(answered.status).toBe(200);
      expect(typeof answered.data?.exportContacts).toBe('string');
    });

    // Last: it spends this machine's whole anonymous budget.
    it('answers an address over its anonymous budget with 429, Retry-After and RATE_LIMITED; signed-in callers keep theirs', async () => {
      let served = 0;
      let refused: Awaited<ReturnType<typeof gql>> | undefined;
      while (!refused && served < 400) {
        const batch = await Promise.all(Array.from({ length: 25 }, () => gql(platform.url, '{ __typename }')));
        served += batch.filter((r) => r.status === 200).length;
        refused = batch.find((r) => r.status === 429);
      }
      // 300 a minute, refilled at 5 a second while the batches ran.
      expect(refused?.status).toBe(429);
      expect(served).toBeLessThanOrEqual(330);
      expect(refused?.headers.get('retry-after')).toBe('1');
      expect(refused?.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: 1 });
      const me = await gql(platform.url, '{ me { actorType } }', {}, { token });
      expect(me.status).toBe(200);
      expect(me.data?.me.actorType).toBe('user');
    });
  });
}
