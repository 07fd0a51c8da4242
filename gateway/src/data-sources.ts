// How the gateway reaches subgraphs. Both kinds sign the caller's context into the same header:
// over HTTP in cluster mode, and by calling the subgraph's execute directly in embedded mode.
import { type GraphQLDataSource, type GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import type { RequestContext } from '@mauntic/kernel';
import {
  CORRELATION_HEADER,
  INTERNAL_CONTEXT_HEADER,
  injectTraceHeaders,
  inSpan,
  type Logger,
  SpanKind,
  type Subgraph,
  signInternalContext,
  tracing,
} from '@mauntic/platform';
import { GraphQLError } from 'graphql';

export interface GatewayContext {
  request: RequestContext;
}

/** Schema loading and health checks run without a caller: they go as the gateway itself. */
const contextOf = (context: Partial<GatewayContext> | undefined): RequestContext =>
  context?.request ?? { correlationId: 'gateway', actor: { type: 'system', id: 'gateway' }, scopes: [] };

export class SignedRemoteDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  /**
   * `timeoutMs` bounds each call, answer included: a subgraph that stops answering (frozen,
   * partitioned away) fails the fields it owns instead of holding the query open forever.
   */
  private readonly name: string;
  private readonly internalKey: Uint8Array;
  private readonly timeoutMs: number;
  private readonly logger: Logger;

  constructor(options: { name: string; url: string; internalKey: Uint8Array; timeoutMs: number; logger: Logger }) {
    super({ url: options.url });
    this.name = options.name;
    this.internalKey = options.internalKey;
    this.timeoutMs = options.timeoutMs;
    this.logger = options.logger;
    const { timeoutMs } = options;
    const fetcher = this.fetcher;
    this.fetcher = (input, init) =>
      fetcher(input, { ...init, signal: AbortSignal.timeout(timeoutMs) } as Parameters<typeof fetcher>[1]);
  }

  /** A subgraph that did not answer is named in the error the client gets, not masked as internal. */
  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>) {
    try {
      return await super.process(options);
    } catch (error) {
      if (error instanceof GraphQLError) throw error;
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError')
        throw new GraphQLError(`Subgraph "${this.name}" did not answer within ${this.timeoutMs} ms`, {
          extensions: { code: 'SUBGRAPH_TIMEOUT', serviceName: this.name },
        });
      this.logger.warn({ err: error, subgraph: this.name }, 'subgraph call failed');
      throw new GraphQLError(`Subgraph "${this.name}" is unavailable`, {
        extensions: { code: 'SUBGRAPH_UNAVAILABLE', serviceName: this.name },
      });
    }
  }

  override async willSendRequest({
    request,
    context,
  }: Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['willSendRequest']>>[0]) {
    const ctx = contextOf(context as Partial<GatewayContext>);
    request.http?.headers.set(INTERNAL_CONTEXT_HEADER, signInternalContext(ctx, this.internalKey));
    request.http?.headers.set(CORRELATION_HEADER, ctx.correlationId);
    const headers = request.http?.headers;
    if (headers) injectTraceHeaders((name, value) => headers.set(name, value));
  }

  /**
   * A subgraph answers some request errors (e.g. a variable its scalar rejects) with HTTP 400
   * and a GraphQL body: pass its first error on as the subgraph said it, as the in-process path
   * does, instead of a generic HTTP failure.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0]) {
    const text = await response.text();
    let first: { message?: string; extensions?: Record<string, unknown> } | undefined;
    try {
      first = (JSON.parse(text) as { errors?: (typeof first)[] }).errors?.[0];
    } catch {
      // not JSON: fall through
    }
    if (first?.message) return new GraphQLError(first.message, { extensions: { ...first.extensions } });
    return new GraphQLError(`${response.status}: ${response.statusText}`, {
      extensions: { code: response.status === 401 ? 'UNAUTHENTICATED' : 'SUBGRAPH_ERROR', status: response.status },
    });
  }
}

/**
 * Embedded mode: the subgraph's `execute` called directly with the operation the query plan
 * already holds parsed (so the subgraph validates it once, not on every call), signed as over HTTP.
 */
export class InProcessDataSource implements GraphQLDataSource<GatewayContext> {
  constructor(
    private readonly subgraph: Subgraph,
    private readonly internalKey: Uint8Array,
  ) {}

  async process(
    options: GraphQLDataSourceProcessOptions<GatewayContext>,
  ): ReturnType<GraphQLDataSource<GatewayContext>['process']> {
    const { query, variables, operationName } = options.request;
    const { result } = await this.subgraph.execute({
      context: signInternalContext(contextOf(options.context as Partial<GatewayContext>), this.internalKey),
      query,
      ...('document' in options && options.document ? { document: options.document } : {}),
      ...(variables ? { variables } : {}),
      ...(operationName ? { operationName } : {}),
    });
    return result;
  }
}

/**
 * Each fetch from a subgraph as a CLIENT span (the subgraph's own request span is its child,
 * through the traceparent header); while tracing is off the data source is used as it is.
 */
export function tracedDataSource(
  name: string,
  source: GraphQLDataSource<GatewayContext>,
): GraphQLDataSource<GatewayContext> {
  if (!tracing.enabled) return source;
  return {
    process: (options) =>
      inSpan(
        `subgraph ${name}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            'mauntic.subgraph': name,
            ...(options.request.operationName ? { 'graphql.operation.name': options.request.operationName } : {}),
          },
        },
        () => source.process(options),
      ),
  };
}

/**
 * The gateway's readiness: every subgraph it routes to answers its /healthz within `timeoutMs`.
 * Liveness, not the subgraph's own readiness: a subgraph out of readiness for a moment (its
 * database or Kafka flapping) should not take every gateway out of its Service with it; a frozen
 * or gone one does.
 */
export function subgraphsAnswer(urls: Record<string, string>, timeoutMs = 2000): () => Promise<void> {
  const check = async (name: string, url: string): Promise<string | undefined> => {
    try {
      const response = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(timeoutMs) });
      await response.body?.cancel();
      return response.ok ? undefined : `${name}: HTTP ${response.status}`;
    } catch (error) {
      if ((error as Error).name === 'TimeoutError') return `${name}: no answer within ${timeoutMs} ms`;
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      return `${name}: unreachable${cause ? ` (${cause})` : ''}`;
    }
  };
  return async () => {
    const failed = await Promise.all(Object.entries(urls).map(([name, url]) => check(name, url)));
    const problems = failed.filter((problem) => problem !== undefined);
    if (problems.length) throw new Error(problems.join('; '));
  };
}
