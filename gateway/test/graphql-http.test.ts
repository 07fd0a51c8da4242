// The gateway's GraphQL endpoint over real HTTP: what a request must look like, how each way of
// getting one wrong is answered (a typed error and a 4xx, never a 500), and that a failing
// subgraph is masked. The subgraphs are a probe that counts calls.
import type { GraphQLDataSource } from '@apollo/gateway';
import { type Logger, type RunningHttpServer, startHttpServer } from '@mauntic/platform';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayContext } from '../src/data-sources.ts';
import { Gateway } from '../src/gateway.ts';
import { loadSupergraph } from '../src/supergraph.ts';

const jwtKey = new TextEncoder().encode('a-test-signing-key-of-32-bytes-or-more!!');
const supergraphSdl = loadSupergraph().sdl;
const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of open.splice(0)) await stop();
});

async function startGateway(answer: GraphQLDataSource<GatewayContext>['process']) {
  let calls = 0;
  // What the gateway logs as errors, kept to be read (the gateway logs nothing else at this level).
  const logged: Record<string, unknown>[] = [];
  const logger = {
    error: (fields: Record<string, unknown>, msg: string) => logged.push({ ...fields, msg }),
    warn: () => {},
  } as unknown as Logger;
  const gateway = new Gateway({
    supergraphSdl,
    dataSource: () => ({
      process: (options) => {
        calls += 1;
        return answer(options);
      },
    }),
    jwtKey,
    verifyApiKey: async () => null,
    logger,
    maxDepth: 12,
    maxCost: 20_000,
    corsOrigins: '*',
    introspection: 'everyone',
  });
  await gateway.start();
  const http: RunningHttpServer = await startHttpServer(
    { service: 'gateway', logger, routes: { '/graphql': gateway.route() } },
    0,
    '127.0.0.1',
  );
  open.push(async () => {
    await http.close();
    await gateway.stop();
  });
  return { url: `${http.url}/graphql`, calls: () => calls, logged };
}

const noSubgraph = async () => ({ errors: [{ message: 'no subgraph runs in this test' }] });

async function call(url: string, init: RequestInit) {
  const response = await fetch(url, init);
  const body = (await response.json()) as { data?: any; errors?: { message: string; extensions?: any }[] };
  return { status: response.status, headers: response.headers, ...body };
}
const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('the GraphQL endpoint', () => {
  it('answers a JSON POST, and a query sent with GET that asks for a preflight', async () => {
    const gateway = await startGateway(noSubgraph);
    const posted = await call(gateway.url, json({ query: 'query Q { __typename }', operationName: 'Q' }));
    expect(posted).toMatchObject({ status: 200, data: { __typename: 'Query' } });
    expect(posted.headers.get('content-type')).toMatch(/^application\/json/);
    const search = new URLSearchParams({ query: '{ __typename }' });
    const got = await call(`${gateway.url}?${search}`, { headers: { 'apollo-require-preflight': 'true' } });
    expect(got).toMatchObject({ status: 200, data: { __typename: 'Query' } });
  });

  it('refuses what a page on another site could send without a preflight (CSRF)', async () => {
    const gateway = await startGateway(noSubgraph);
    const search = new URLSearchParams({ query: '{ __typename }' });
    const simpleGet = await call(`${gateway.url}?${search}`, {});
    expect(simpleGet.status).toBe(400);
    expect(simpleGet.errors?.[0]?.message).toMatch(/Cross-Site Request Forgery/);
    const form = await call(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(form.status).toBe(400);
    expect(form.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
  });

  it('answers each malformed request with 400 or 405 and a code, and calls no subgraph', async () => {
    const gateway = await startGateway(noSubgraph);
    const code = async (init: RequestInit, url = gateway.url) => {
      const answer = await call(url, init);
      return [answer.status, answer.errors?.[0]?.extensions?.code];
    };
    expect(await code(json('not json'))).toEqual([400, 'BAD_REQUEST']);
    expect(await code(json([{ query: '{ __typename }' }]))).toEqual([400, 'BAD_REQUEST']);
    expect(await code(json({}))).toEqual([400, 'BAD_REQUEST']);
    expect(await code(json({ query: '{ __typename }', variables: '{}' }))).toEqual([400, 'BAD_REQUEST']);
    expect(await code(json({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab' } } }))).toEqual([
      400,
      'PERSISTED_QUERY_NOT_SUPPORTED',
    ]);
    expect(await code(json({ query: '{ __typename' }))).toEqual([400, 'GRAPHQL_PARSE_FAILED']);
    expect(await code(json({ query: '{ nothing }' }))).toEqual([400, 'GRAPHQL_VALIDATION_FAILED']);
    expect(await code(json({ query: 'query A { __typename } query B { __typename }' }))).toEqual([
      400,
      'OPERATION_RESOLUTION_FAILURE',
    ]);
    expect(
      await code(json({ query: 'query($id: ID!) { contact(id: $id) { id } }', variables: { id: { not: 'an id' } } })),
    ).toEqual([400, 'BAD_USER_INPUT']);
    expect(await code({ method: 'PUT', body: '{}' })).toEqual([405, 'BAD_REQUEST']);
    const search = new URLSearchParams({ query: 'mutation { logOut(input: { refreshToken: "x" }) { __typename } }' });
    const mutationByGet = await fetch(`${gateway.url}?${search}`, { headers: { 'apollo-require-preflight': '1' } });
    expect(mutationByGet.status).toBe(405);
    expect(mutationByGet.headers.get('allow')).toBe('POST');
    expect(gateway.calls()).toBe(0);
  });

  it('masks a subgraph that fails and logs it once, as an internal error', async () => {
    const gateway = await startGateway(async () => {
      throw new Error('connect ECONNREFUSED 10.0.0.7:4001');
    });
    const answer = await call(gateway.url, json({ query: '{ me { actorType } }' }));
    expect(answer.status).toBe(200);
    expect(answer.errors).toEqual([
      { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
    ]);
    expect(JSON.stringify(answer)).not.toContain('10.0.0.7');
    expect(gateway.logged).toHaveLength(1);
    expect(gateway.logged[0]).toMatchObject({ msg: 'unexpected error' });
    expect(String((gateway.logged[0]!.err as Error).message)).toContain('10.0.0.7');
  });
});
