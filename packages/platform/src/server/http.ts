// A minimal HTTP server shared by every deployable: exact-path routes, request metrics, and a
// close() that stops accepting, lets in-flight requests finish, then returns. A handler may
// answer with a Readable body, which is streamed (chunked) with backpressure.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../logger.ts';
import { metrics, registry } from '../metrics.ts';
import { contextFromHeaders, inSpan, SpanKind, tracing } from '../telemetry/tracing.ts';

export interface HttpRequest {
  method: string;
  path: string;
  search: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  raw: IncomingMessage;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  /**
   * A Readable is sent as it is read, with Transfer-Encoding: chunked (set no content-length).
   * If it fails midway the connection is cut, so the client sees an incomplete response rather
   * than a short file that looks whole.
   */
  body?: string | Buffer | Readable;
}

export type HttpHandler = (request: HttpRequest) => Promise<HttpResponse>;

export interface HttpServerOptions {
  service: string;
  logger: Logger;
  routes: Record<string, HttpHandler>;
  /** Readiness checks for /readyz; each throws when its dependency is unavailable. */
  readiness?: Record<string, () => Promise<void>>;
  maxBodyBytes?: number;
  /**
   * A port of its own for /metrics (METRICS_PORT), on the same host, which then is not served on
   * the main port: the port a NetworkPolicy opens to the scraper alone. Unset: /metrics on the main port.
   */
  metricsPort?: number | undefined;
}

export interface RunningHttpServer {
  server: Server;
  port: number;
  url: string;
  /** Stops accepting connections; resolves when in-flight requests are done. */
  close(): Promise<void>;
  /** Marks the server not ready (for /readyz) ahead of shutdown. */
  draining(): void;
  /** Where /metrics is served when it has a port of its own. */
  metricsPort?: number | undefined;
}

const json = (status: number, value: unknown): HttpResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

const HEALTH = '/healthz';
const READY = '/readyz';
const METRICS = '/metrics';
/** Probes and scrapes are not traced: they would bury the requests in spans. */
const UNTRACED = new Set([HEALTH, READY, METRICS]);

export function httpRoutesWithProbes(
  options: HttpServerOptions,
  isDraining: () => boolean,
): Record<string, HttpHandler> {
  return {
    [HEALTH]: async () => json(200, { status: 'ok' }),
    [READY]: async () => {
      if (isDraining()) return json(503, { status: 'draining' });
      const results: Record<string, string> = {};
      let ready = true;
      for (const [name, check] of Object.entries(options.readiness ?? {})) {
        try {
          await check();
          results[name] = 'ok';
        } catch (error) {
          ready = false;
          results[name] = (error as Error).message;
        }
      }
      return json(ready ? 200 : 503, { status: ready ? 'ready' : 'unavailable', checks: results });
    },
    [METRICS]: async () => ({
      status: 200,
      headers: { 'content-type': registry.contentType },
      body: await registry.metrics(),
    }),
    ...options.routes,
  };
}

const tooLarge = () => Object.assign(new Error('request body too large'), { status: 413 });

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  // A declared length over the limit is refused before a byte of the body is read.
  if (Number(req.headers['content-length']) > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** A request as a SERVER span, a child of the caller's traceparent if it sent one. */
function tracedRequest(service: string, request: HttpRequest, handler: HttpHandler): Promise<HttpResponse> {
  const { method, path } = request;
  return inSpan(
    `${method} ${path}`,
    {
      kind: SpanKind.SERVER,
      parent: contextFromHeaders(request.headers),
      attributes: { 'http.request.method': method, 'http.route': path, 'mauntic.service': service },
    },
    async (span) => {
      const response = await handler(request);
      span.setAttribute('http.response.status_code', response.status);
      return response;
    },
  );
}

/** A request body's limit: large enough for a CSV import sent through GraphQL (startContactImport); docs/graph.md. */
export const DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function startHttpServer(
  options: HttpServerOptions,
  port: number,
  host = '0.0.0.0',
): Promise<RunningHttpServer> {
  let isDraining = false;
  const { '/metrics': metricsRoute, ...appRoutes } = httpRoutesWithProbes(options, () => isDraining);
  const routes = options.metricsPort === undefined ? { '/metrics': metricsRoute!, ...appRoutes } : appRoutes;
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const started = process.hrtime.bigint();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const handler = routes[url.pathname];
    let response: HttpResponse;
    const inFlight = { service: options.service, route: handler ? url.pathname : 'unknown' };
    metrics.httpInFlight.inc(inFlight);
    try {
      if (!handler) response = json(404, { error: 'not found' });
      else {
        const body = await readBody(req, limit);
        const request = {
          method: req.method ?? 'GET',
          path: url.pathname,
          search: url.search,
          headers: req.headers,
          body,
          raw: req,
        };
        response =
          tracing.enabled && !UNTRACED.has(url.pathname)
            ? await tracedRequest(options.service, request, handler)
            : await handler(request);
      }
    } catch (error) {
      const status = (error as { status?: number }).status ?? 500;
      if (status >= 500) options.logger.error({ err: error, path: url.pathname }, 'request failed');
      response = json(status, { error: status >= 500 ? 'internal error' : (error as Error).message });
    }
    // A request whose body was not read to its end (a 413) leaves the rest of it on the connection,
    // where no next request can be found: the connection closes once the answer is out, rather
    // than wait for (or read) the rest. While draining, keep-alive clients are asked to go too, so
    // close() is not held up by idle sockets.
    const unread = !req.complete;
    const socket = res.socket; // detached from res by the time the answer is out
    if (unread) res.once('finish', () => socket?.destroy());
    res.writeHead(
      response.status,
      isDraining || unread ? { ...response.headers, connection: 'close' } : response.headers,
    );
    if (response.body instanceof Readable) {
      try {
        await pipeline(response.body, res);
      } catch (error) {
        // pipeline has destroyed both ends; a client that went away is not worth an error.
        if (!req.destroyed) options.logger.error({ err: error, path: url.pathname }, 'streamed response failed');
      }
    } else res.end(response.body);
    metrics.httpInFlight.dec(inFlight);
    metrics.httpRequests.observe(
      { service: options.service, route: handler ? url.pathname : 'unknown', status: String(response.status) },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  });
  server.keepAliveTimeout = 65_000;

  const actualPort = await listen(server, port, host);
  const metricsServer =
    options.metricsPort === undefined
      ? undefined
      : createServer(async (req, res) => {
          if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/metrics') res.writeHead(404).end();
          else res.writeHead(200, { 'content-type': registry.contentType }).end(await registry.metrics());
        });
  const metricsPort = metricsServer && (await listen(metricsServer, options.metricsPort!, host));
  return {
    server,
    port: actualPort,
    ...(metricsPort === undefined ? {} : { metricsPort }),
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actualPort}`,
    draining: () => {
      isDraining = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        isDraining = true;
        // Connections that finish their request after this become idle later: close those too.
        const sweep = setInterval(() => server.closeIdleConnections(), 50);
        metricsServer?.close();
        server.close(() => {
          clearInterval(sweep);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
