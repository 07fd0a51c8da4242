// The gateway's per-caller budgets and query limits over real HTTP, with settings the embedded mode
// does not pass yet. The queries here are answered by the gateway itself (`__typename`,
// introspection) or refused before planning, so the subgraphs are a probe that counts calls.
import { randomUUID } from 'node:crypto';
import type { GraphQLDataSource } from '@apollo/gateway';
import {
  createLogger,
  openRateLimiter,
  type RunningHttpServer,
  signAccessToken,
  startHttpServer,
} from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { getIntrospectionQuery } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayContext } from '../src/data-sources.ts';
import { Gateway, type GatewayOptions } from '../src/gateway.ts';
import { loadSupergraph } from '../src/supergraph.ts';

const logger = createLogger('gateway-limits-test', 'silent');
const jwtKey = new TextEncoder().encode('a-test-signing-key-of-32-bytes-or-more!!');
const supergraphSdl = loadSupergraph().sdl;
const open: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.stop();
});

interface Running {
  url: string;
  subgraphCalls: () => number;
}

async function startGateway(options: Partial<GatewayOptions> = {}): Promise<Running> {
  let calls = 0;
  const probe: GraphQLDataSource<GatewayContext> = {
    process: async () => {
      calls += 1;
      return { errors: [{ message: 'no subgraph runs in this test' }] };
    },
  };
  const gateway = new Gateway({
    supergraphSdl,
    dataSource: () => probe,
    jwtKey,
    verifyApiKey: async () => null,
    logger,
    maxDepth: 12,
    maxCost: 20_000,
    corsOrigins: '*',
    ...options,
  });
  await gateway.start();
  const http: RunningHttpServer = await startHttpServer(
    { service: 'gateway', logger, routes: { '/graphql': gateway.route() } },
    0,
    '127.0.0.1',
  );
  open.push({
    stop: async () => {
      await http.close();
      await gateway.stop();
    },
  });
  return { url: `${http.url}/graphql`, subgraphCalls: () => calls };
}

async function post(url: string, query: string, headers: Record<string, string> = {}, variables = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: any; errors?: { message: string; extensions?: any }[] };
  return { status: response.status, headers: response.headers, ...body };
}

const bearer = async (userId = randomUUID(), organizationId = randomUUID()) => ({
  authorization: `Bearer ${(await signAccessToken({ userId, organizationId, role: 'owner' }, jwtKey, 600)).token}`,
});

const limits = (anonymousPerMinute: number, authenticatedPerMinute: number, trustedProxies = 0) => ({
  rateLimits: { anonymousPerMinute, authenticatedPerMinute, trustedProxies },
});

describe('per-caller request budgets', () => {
  it('answers 429 with Retry-After (seconds) and RATE_LIMITED once an address has spent its budget', async () => {
    const gateway = await startGateway(limits(3, 100));
    for (let i = 0; i < 3; i++) expect((await post(gateway.url, '{ __typename }')).status).toBe(200);
    const refused = await post(gateway.url, '{ __typename }');
    expect(refused.status).toBe(429);
    // 3 a minute: a token every 20 seconds.
    expect(refused.headers.get('retry-after')).toBe('20');
    expect(refused.errors?.[0]?.extensions).toEqual({ code: 'RATE_LIMITED', retryAfter: 20 });
    expect(refused.data).toBeUndefined();
  });

  it('gives each signed-in user a budget of their own, apart from their address', async () => {
    const gateway = await startGateway(limits(1, 2));
    const alice = await bearer();
    const bob = await bearer();
    expect((await post(gateway.url, '{ __typename }', alice)).status).toBe(200);
    expect((await post(gateway.url, '{ __typename }', alice)).status).toBe(200);
    expect((await post(gateway.url, '{ __typename }', alice)).status).toBe(429);
    expect((await post(gateway.url, '{ __typename }', bob)).status).toBe(200);
    expect((await post(gateway.url, '{ __typename }')).status).toBe(200);
    expect((await post(gateway.url, '{ __typename }')).status).toBe(429);
  });

  it('charges a request whose credentials fail to its address, so bad tokens are not free', async () => {
    const gateway = await startGateway(limits(2, 100));
    const forged = { authorization: 'Bearer not-a-token' };
    expect((await post(gateway.url, '{ __typename }', forged)).status).toBe(401);
    expect((await post(gateway.url, '{ __typename }', forged)).status).toBe(401);
    const refused = await post(gateway.url, '{ __typename }', forged);
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('keys anonymous callers by the address the trusted proxy saw, and ignores the header without one', async () => {
    const behindProxy = await startGateway(limits(1, 100, 1));
    const from = (address: string) => ({ 'x-forwarded-for': address });
    expect((await post(behindProxy.url, '{ __typename }', from('203.0.113.7'))).status).toBe(200);
    expect((await post(behindProxy.url, '{ __typename }', from('203.0.113.7'))).status).toBe(429);
    // What the client wrote itself, left of what the proxy appended, changes nothing.
    expect((await post(behindProxy.url, '{ __typename }', from('198.51.100.1, 203.0.113.7'))).status).toBe(429);
    expect((await post(behindProxy.url, '{ __typename }', from('203.0.113.8'))).status).toBe(200);
    // One subscriber's IPv6 /64 is one address.
    expect((await post(behindProxy.url, '{ __typename }', from('2001:db8:0:1::1'))).status).toBe(200);
    expect((await post(behindProxy.url, '{ __typename }', from('2001:db8::1:ffff:0:0:2'))).status).toBe(429);

    const direct = await startGateway(limits(1, 100, 0));
    expect((await post(direct.url, '{ __typename }', from('203.0.113.7'))).status).toBe(200);
    expect((await post(direct.url, '{ __typename }', from('203.0.113.8'))).status).toBe(429);
  });

  it('shares one budget between replicas through Redis, apart from other deployments', async () => {
    const prefix = `test:gateway:${randomUUID()}:`;
    const budgets = [0, 1, 2].map((i) =>
      openRateLimiter({ redisUrl: testServices.redisUrl, prefix: i < 2 ? prefix : `${prefix}other:`, logger }),
    );
    open.push({ stop: async () => void (await Promise.all(budgets.map((b) => b.close()))) });
    const [a, b, other] = await Promise.all(
      budgets.map((r) => startGateway({ ...limits(2, 100), rateLimiter: r.limiter })),
    );
    expect((await post(a!.url, '{ __typename }')).status).toBe(200);
    expect((await post(b!.url, '{ __typename }')).status).toBe(200);
    expect((await post(a!.url, '{ __typename }')).status).toBe(429);
    expect((await post(b!.url, '{ __typename }')).status).toBe(429);
    expect((await post(other!.url, '{ __typename }')).status).toBe(200);
  });

  it('lets requests through when the budgets cannot be reached, rather than refuse everyone', async () => {
    const unreachable = openRateLimiter({ redisUrl: 'redis://127.0.0.1:1', prefix: 'test:', logger, timeoutMs: 100 });
    open.push({ stop: unreachable.close });
    const gateway = await startGateway({ ...limits(1, 1), rateLimiter: unreachable.limiter });
    for (let i = 0; i < 3; i++) expect((await post(gateway.url, '{ __typename }')).status).toBe(200);
  });

  it('counts nothing when a limit is 0', async () => {
    const gateway = await startGateway(limits(0, 0));
    const token = await bearer();
    for (let i = 0; i < 5; i++) {
      expect((await post(gateway.url, '{ __typename }')).status).toBe(200);
      expect((await post(gateway.url, '{ __typename }', token)).status).toBe(200);
    }
  });
});

describe('query limits at the gateway', () => {
  it('refuses too many aliases with 400 before any subgraph is called', async () => {
    const gateway = await startGateway({ maxAliases: 5 });
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { actorType }`).join(' ')} }`;
    const refused = await post(gateway.url, aliases(6), await bearer());
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_MANY_ALIASES', aliases: 6, limit: 5 });
    expect(gateway.subgraphCalls()).toBe(0);
    // Under the limit it goes on to the subgraph.
    await post(gateway.url, aliases(5), await bearer());
    expect(gateway.subgraphCalls()).toBe(1);
  });

  it('refuses a field repeated a thousand times in one selection set before validation spends time on it', async () => {
    const gateway = await startGateway();
    const repeated = `{ me { ${Array.from({ length: 1_000 }, () => '... on Viewer { user { id } }').join(' ')} } }`;
    const started = performance.now();
    const refused = await post(gateway.url, repeated, await bearer());
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_FIELD_REPEATED', times: 1_000 });
    expect(gateway.subgraphCalls()).toBe(0);
  });

  it('refuses fields repeated through a chain of fragments before validation spends a second on them', async () => {
    const gateway = await startGateway();
    const users = Array.from({ length: 50 }, () => 'user { id }').join(' ');
    let query = `{ me { ${users} ...F0 } }`;
    for (let i = 0; i < 20; i++) query += ` fragment F${i} on Viewer { ${users} ${i < 19 ? `...F${i + 1}` : ''} }`;
    const started = performance.now();
    const refused = await post(gateway.url, query, await bearer());
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_FIELD_REPEATED', times: 1_050 });
  });

  it('stops parsing a document past its token limit, however large it is', async () => {
    const gateway = await startGateway({ maxTokens: 1_000 });
    const huge = `{ ${'__typename '.repeat(300_000)}}`;
    const started = performance.now();
    const refused = await post(gateway.url, huge, await bearer());
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(refused.errors?.[0]?.message).toMatch(/1000 tokens/);
  });

  it('checks a query sent with GET as it checks one sent with POST', async () => {
    const gateway = await startGateway({ maxAliases: 1 });
    const search = new URLSearchParams({ query: '{ a: __typename b: __typename }' });
    const response = await fetch(`${gateway.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]?.extensions.code).toBe('QUERY_TOO_MANY_ALIASES');
  });

  it('refuses too many root fields and too many fragments', async () => {
    const gateway = await startGateway({ maxRootFields: 3, maxFragments: 2 });
    const roots = await post(
      gateway.url,
      '{ me { actorType } a: __typename b: __typename c: __typename }',
      await bearer(),
    );
    expect(roots.status).toBe(400);
    expect(roots.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_MANY_ROOT_FIELDS');
    const fragments = await post(
      gateway.url,
      '{ me { ...A } } fragment A on Viewer { ...B } fragment B on Viewer { ...C } fragment C on Viewer { actorType }',
      await bearer(),
    );
    expect(fragments.status).toBe(400);
    expect(fragments.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_MANY_FRAGMENTS');
    expect(gateway.subgraphCalls()).toBe(0);
  });

  it('refuses a value written in the query that nests 30 lists at once (the planner doubles its work with each), and takes the same as a variable', async () => {
    const gateway = await startGateway();
    const nested = (lists: number) => {
      let value = '1';
      for (let i = 0; i < lists; i++) value = `{ and: [${value}] }`;
      return value;
    };
    const started = performance.now();
    const refused = await post(gateway.url, `{ me(filter: ${nested(30)}) { actorType } }`, await bearer());
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_VALUE_TOO_DEEP', lists: 30, depth: 60 });
    // Within the limits it goes on to validation (this schema's me takes no argument).
    const within = await post(gateway.url, `{ me(filter: ${nested(8)}) { actorType } }`, await bearer());
    expect(within.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(gateway.subgraphCalls()).toBe(0);
  });

  it('refuses a 30-level chain of doubling fragments at once', async () => {
    const gateway = await startGateway();
    let query = '{ me { ...F0 } }\n';
    for (let i = 0; i < 30; i++) query += `fragment F${i} on Viewer { actorType ...F${i + 1} ...F${i + 1} }\n`;
    query += 'fragment F30 on Viewer { role }';
    const started = performance.now();
    const refused = await post(gateway.url, query, await bearer());
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COSTLY');
    expect(gateway.subgraphCalls()).toBe(0);
  });

  it('serves the standard introspection query to a signed-in caller within the default limits', async () => {
    const gateway = await startGateway();
    const answer = await post(gateway.url, getIntrospectionQuery(), await bearer());
    expect(answer.status).toBe(200);
    expect(answer.errors).toBeUndefined();
    expect(answer.data.__schema.types.length).toBeGreaterThan(50);
  });

  it('refuses introspection to anonymous callers by default, to everyone when turned off, and to nobody when open', async () => {
    const byDefault = await startGateway();
    const anonymous = await post(byDefault.url, '{ __schema { queryType { name } } }');
    expect(anonymous.status).toBe(401);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');
    expect((await post(byDefault.url, '{ __type(name: "Query") { name } }')).status).toBe(401);
    // __typename is not introspection.
    expect((await post(byDefault.url, '{ __typename }')).status).toBe(200);

    const off = await startGateway({ introspection: 'nobody' });
    const signedIn = await post(off.url, '{ __schema { queryType { name } } }', await bearer());
    expect(signedIn.status).toBe(403);
    expect(signedIn.errors?.[0]?.extensions?.code).toBe('INTROSPECTION_DISABLED');

    const everyone = await startGateway({ introspection: 'everyone' });
    const answered = await post(everyone.url, '{ __schema { queryType { name } } }');
    expect(answered.status).toBe(200);
    expect(answered.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('refuses 100 aliases of the whole schema for what they would return', async () => {
    const gateway = await startGateway({ introspection: 'everyone' });
    const query = `{ ${Array.from({ length: 100 }, (_, i) => `s${i}: __schema { types { name } }`).join(' ')} }`;
    const refused = await post(gateway.url, query);
    expect(refused.status).toBe(400);
    expect(refused.errors?.[0]?.extensions?.code).toBe('QUERY_TOO_COSTLY');
  });
});
