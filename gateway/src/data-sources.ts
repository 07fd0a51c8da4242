// How the gateway reaches subgraphs. Both kinds sign the caller's context into the same header:
// over HTTP in cluster mode, and by calling the subgraph's execute directly in embedded mode.
import { type GraphQLDataSource, type GraphQLDataSourceProcessOptions, RemoteGraphQLDataSource } from '@apollo/gateway';
import type { RequestContext } from '@mauntic/kernel';
import {
  CORRELATION_HEADER,
  INTERNAL_CONTEXT_HEADER,
  injectTraceHeaders,
  inSpan,
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
  constructor(
    url: string,
    private readonly internalKey: Uint8Array,
  ) {
    super({ url });
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
