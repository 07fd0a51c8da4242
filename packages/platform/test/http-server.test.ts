// The shared HTTP server, over raw sockets where a client library would hide what happens.
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logger.ts';
import { type RunningHttpServer, startHttpServer } from '../src/server/http.ts';

let server: RunningHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Collects what the server sends until it closes the connection (or `ms` pass). */
function readUntilClosed(socket: Socket, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve({ text, closed: false }), ms);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', () => {});
  });
}

async function echoServer(): Promise<RunningHttpServer> {
  return startHttpServer(
    {
      service: 'test',
      logger: createLogger('http-test', 'silent'),
      routes: { '/echo': async (req) => ({ status: 200, body: req.body }) },
      maxBodyBytes: 1024,
    },
    0,
    '127.0.0.1',
  );
}

async function openSocket(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  return socket;
}

describe('http server', () => {
  it('answers a declared length over the limit with 413 and closes the keep-alive connection', async () => {
    server = await echoServer();
    const socket = await openSocket(server.port);
    const answer = readUntilClosed(socket, 3_000);
    // Announces far more than the limit, sends part of it, and then keeps the connection open.
    socket.write('POST /echo HTTP/1.1\r\nhost: x\r\nconnection: keep-alive\r\ncontent-length: 100000\r\n\r\n');
    socket.write('x'.repeat(4096));
    const { text, closed } = await answer;
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(closed).toBe(true);
  });

  it('answers a chunked body that grows over the limit with 413 and closes the connection', async () => {
    server = await echoServer();
    const socket = await openSocket(server.port);
    const answer = readUntilClosed(socket, 3_000);
    socket.write('POST /echo HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n');
    socket.write(`1000\r\n${'x'.repeat(4096)}\r\n`);
    const { text, closed } = await answer;
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text.toLowerCase()).toContain('connection: close');
    expect(closed).toBe(true);
  });

  it('keeps a connection whose requests were read whole open for the next request', async () => {
    server = await echoServer();
    const socket = await openSocket(server.port);
    const answer = readUntilClosed(socket, 500);
    const request = (body: string) => `POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    socket.write(request('first') + request('second'));
    const { text, closed } = await answer;
    socket.destroy();
    expect(text.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(text).toContain('second');
    expect(closed).toBe(false);
  });
});

describe('metrics on a port of their own (METRICS_PORT)', () => {
  const start = (metricsPort?: number) =>
    startHttpServer(
      {
        service: 'test',
        logger: createLogger('http-test', 'silent'),
        routes: { '/graphql': async () => ({ status: 200, body: 'ok' }) },
        metricsPort,
      },
      0,
      '127.0.0.1',
    );

  it('serves /metrics on the main port when unset', async () => {
    server = await start();
    expect(server.metricsPort).toBeUndefined();
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('mauntic_http_requests');
  });

  it('serves /metrics only on that port when set, the application and probes on the main one', async () => {
    server = await start(0);
    expect(server.metricsPort).toBeGreaterThan(0);
    expect(server.metricsPort).not.toBe(server.port);
    expect((await fetch(`${server.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${server.url}/graphql`)).status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('mauntic_http_requests');
    expect((await fetch(`http://127.0.0.1:${server.metricsPort}/graphql`)).status).toBe(404);
    const metricsPort = server.metricsPort;
    await server.close();
    server = undefined;
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });
});
