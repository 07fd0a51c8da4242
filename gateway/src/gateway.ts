// The gateway: one GraphQL endpoint over the composed supergraph. It authenticates the caller,
// enforces depth and cost limits, and passes a signed context to every subgraph it calls.
import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  CORRELATION_HEADER,
  type HttpHandler,
  type HttpRequest,
  type Logger,
  maskUnexpected,
  runWithLogScope,
} from '@mauntic/platform';
import { type ApiKeyVerifier, authenticate, correlationIdFrom } from './auth.ts';
import type { GatewayContext } from './data-sources.ts';
import { checkLimits } from './limits.ts';

export interface GatewayOptions {
  supergraphSdl: string;
  dataSource: (name: string, url: string) => GraphQLDataSource<GatewayContext>;
  jwtKey: Uint8Array;
  verifyApiKey: ApiKeyVerifier;
  logger: Logger;
  maxDepth: number;
  maxCost: number;
  corsOrigins: string;
}

export class Gateway {
  private readonly apollo: ApolloServer<GatewayContext>;

  constructor(private readonly options: GatewayOptions) {
    const gateway = new ApolloGateway({
      supergraphSdl: options.supergraphSdl,
      buildService: ({ name, url }) => options.dataSource(name, url ?? ''),
      logger: {
        debug: () => {},
        info: () => {},
        warn: (m) => options.logger.warn(String(m)),
        error: (m) => options.logger.error(String(m)),
      },
    });
    this.apollo = new ApolloServer<GatewayContext>({
      gateway,
      includeStacktraceInErrorResponses: false,
      formatError: maskUnexpected(options.logger),
      plugins: [
        {
          requestDidStart: async () => ({
            didResolveOperation: async ({ document, operation, request }) => {
              if (!operation) return;
              checkLimits(document, operation, request.variables ?? {}, {
                maxDepth: options.maxDepth,
                maxCost: options.maxCost,
              });
            },
          }),
        },
      ],
    });
  }

  start(): Promise<void> {
    return this.apollo.start();
  }

  stop(): Promise<void> {
    return this.apollo.stop();
  }

  private corsHeaders(origin: string | undefined): Record<string, string> {
    const allowed = this.options.corsOrigins.split(',').map((o) => o.trim());
    if (!origin || !(allowed.includes('*') || allowed.includes(origin))) return {};
    return {
      'access-control-allow-origin': allowed.includes('*') ? '*' : origin,
      'access-control-allow-headers': 'authorization, content-type, x-correlation-id, apollo-require-preflight',
      'access-control-allow-methods': 'GET, POST, OPTIONS',
      'access-control-max-age': '600',
      vary: 'origin',
    };
  }

  route(): HttpHandler {
    return async (req: HttpRequest) => {
      const cors = this.corsHeaders(req.headers.origin);
      if (req.method === 'OPTIONS') return { status: 204, headers: cors };
      const correlationId = correlationIdFrom(req.headers[CORRELATION_HEADER] as string | undefined);
      const headers = new HeaderMap();
      for (const [k, v] of Object.entries(req.headers))
        if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
      let body: unknown;
      try {
        body = req.body.length ? JSON.parse(req.body.toString('utf8')) : undefined;
      } catch {
        return {
          status: 400,
          headers: { ...cors, 'content-type': 'application/json' },
          body: JSON.stringify({ errors: [{ message: 'The body is not JSON', extensions: { code: 'BAD_REQUEST' } }] }),
        };
      }
      return runWithLogScope({ correlationId }, async () => {
        const response = await this.apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: { method: req.method, headers, search: req.search, body },
          context: async () => ({
            request: await authenticate(req.headers.authorization, correlationId, {
              jwtKey: this.options.jwtKey,
              verifyApiKey: this.options.verifyApiKey,
            }),
          }),
        });
        const out: Record<string, string> = { ...cors, [CORRELATION_HEADER]: correlationId };
        for (const [k, v] of response.headers) out[k] = v;
        let text = '';
        if (response.body.kind === 'complete') text = response.body.string;
        else for await (const chunk of response.body.asyncIterator) text += chunk;
        return { status: response.status ?? 200, headers: out, body: text };
      });
    };
  }
}
