import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger, startHttpServer } from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignedRemoteDataSource, subgraphsAnswer } from './data-sources.ts';
import { Gateway } from './gateway.ts';
import { loadSupergraph } from './supergraph.ts';

const logger = createLogger('gateway-test', 'silent');
const key = new TextEncoder().encode('k'.repeat(32));

/** A subgraph that takes connections and never answers, as a frozen process does. */
let frozen: Server;
let frozenUrl: string;
/** One that answers its health check. */
let healthy: Server;
let healthyUrl: string;

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
};

beforeAll(async () => {
  frozen = createServer(() => {});
  frozenUrl = await listen(frozen);
  healthy = createServer((req, res) => res.writeHead(req.url === '/healthz' ? 200 : 404).end());
  healthyUrl = await listen(healthy);
});
afterAll(async () => {
  frozen.closeAllConnections();
  healthy.closeAllConnections();
  await Promise.all([frozen, healthy].map((s) => new Promise((resolve) => s.close(resolve))));
});

describe('the gateway facing a subgraph that does not answer', () => {
  it('fails the query within the timeout, naming the subgraph', async () => {
    const gateway = new Gateway({
      supergraphSdl: loadSupergraph().sdl,
      dataSource: (name) =>
        new SignedRemoteDataSource({ name, url: frozenUrl, internalKey: key, timeoutMs: 300, logger }),
      jwtKey: key,
      verifyApiKey: async () => null,
      logger,
      maxDepth: 12,
      maxCost: 20_000,
      corsOrigins: '*',
    });
    await gateway.start();
    const http = await startHttpServer(
      { service: 'gateway', logger, routes: { '/graphql': gateway.route() } },
      0,
      '127.0.0.1',
    );
    try {
      const started = Date.now();
      const response = await fetch(`${http.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ me { actorType } }' }),
        signal: AbortSignal.timeout(5000),
      });
      const body = (await response.json()) as { errors?: { message: string; extensions?: Record<string, unknown> }[] };
      expect(Date.now() - started).toBeLessThan(2000);
      expect(body.errors?.[0]).toMatchObject({
        message: 'Subgraph "identity" did not answer within 300 ms',
        extensions: { code: 'SUBGRAPH_TIMEOUT', serviceName: 'identity' },
      });
    } finally {
      await http.close();
      await gateway.stop();
    }
  });

  it('is ready only while every subgraph answers its health check', async () => {
    // A port nothing listens on any more.
    const refusedServer = createServer();
    const refusedUrl = await listen(refusedServer);
    await new Promise((resolve) => refusedServer.close(resolve));

    await expect(subgraphsAnswer({ crm: healthyUrl, identity: healthyUrl }, 300)()).resolves.toBeUndefined();
    await expect(
      subgraphsAnswer({ crm: healthyUrl, identity: frozenUrl, delivery: refusedUrl }, 300)(),
    ).rejects.toThrow('identity: no answer within 300 ms; delivery: unreachable (ECONNREFUSED)');
  });
});
