// A subgraph: its schema behind Apollo Server, with the caller's context taken only from a
// valid signed header. The same `handle` serves HTTP (cluster) and in-process calls from the
// embedded gateway, so both modes run one code path.
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import type { SubgraphContext } from '../graphql/builder.ts';
import { type Logger, runWithLogScope } from '../logger.ts';
import type { HttpRequest, HttpResponse } from './http.ts';
import { CORRELATION_HEADER, INTERNAL_CONTEXT_HEADER, verifyInternalContext } from './internal-context.ts';

export interface SubgraphOptions {
  name: string;
  schema: GraphQLSchema;
  /** The subgraph's use cases, handed to resolvers as ctx.services. */
  services: unknown;
  internalKey: Uint8Array;
  logger: Logger;
}

export interface GraphQLHttpRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  search?: string;
  body: string;
}

const header = (headers: GraphQLHttpRequest['headers'], name: string) => {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/** Unexpected errors are logged once here and reach clients without their internals. */
export function maskUnexpected(logger: Logger) {
  return (formatted: { message: string; extensions?: Record<string, unknown> }, error: unknown) => {
    const code = formatted.extensions?.code;
    if (code && code !== 'INTERNAL_SERVER_ERROR') return formatted;
    logger.error({ err: (error as { originalError?: unknown })?.originalError ?? error }, 'unexpected error');
    return { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  };
}

export class Subgraph {
  readonly name: string;
  private readonly apollo: ApolloServer<SubgraphContext>;
  private started = false;

  constructor(private readonly options: SubgraphOptions) {
    this.name = options.name;
    this.apollo = new ApolloServer<SubgraphContext>({
      schema: options.schema,
      includeStacktraceInErrorResponses: false,
      formatError: maskUnexpected(options.logger),
      plugins: [ApolloServerPluginInlineTraceDisabled()],
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.apollo.start();
    this.started = true;
  }

  async stop(): Promise<void> {
    if (this.started) await this.apollo.stop();
    this.started = false;
  }

  async handle(request: GraphQLHttpRequest): Promise<HttpResponse> {
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(request.headers))
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const correlationId = header(request.headers, CORRELATION_HEADER);
    let parsedBody: unknown;
    try {
      parsedBody = request.body ? JSON.parse(request.body) : undefined;
    } catch {
      return {
        status: 400,
        headers: { 'content-type': 'application/json' },
        body: '{"errors":[{"message":"body is not JSON","extensions":{"code":"BAD_REQUEST"}}]}',
      };
    }
    return runWithLogScope({ correlationId }, async () => {
      const response = await this.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: request.method.toUpperCase(),
          headers,
          search: request.search ?? '',
          body: parsedBody,
        },
        context: async () => {
          let ctx: SubgraphContext['request'];
          try {
            ctx = verifyInternalContext(header(request.headers, INTERNAL_CONTEXT_HEADER), this.options.internalKey);
          } catch (error) {
            throw new GraphQLError((error as Error).message, {
              extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
            });
          }
          return {
            request: ctx,
            services: this.options.services,
            log: this.options.logger.child({ correlationId: ctx.correlationId }),
          };
        },
      });
      const out: Record<string, string> = {};
      for (const [k, v] of response.headers) out[k] = v;
      let body = '';
      if (response.body.kind === 'complete') body = response.body.string;
      else for await (const chunk of response.body.asyncIterator) body += chunk;
      return { status: response.status ?? 200, headers: out, body };
    });
  }

  /** The HTTP route for this subgraph's /graphql. */
  route() {
    return async (req: HttpRequest) => {
      if (req.method === 'POST' && !req.body.length) return { status: 400, body: 'empty body' };
      return this.handle({
        method: req.method,
        headers: req.headers,
        search: req.search,
        body: req.body.toString('utf8'),
      });
    };
  }
}
