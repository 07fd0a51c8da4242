// The gateway: one GraphQL endpoint over the composed supergraph. It authenticates the caller,
// spends the caller's request budget, enforces the query limits, and passes a signed context to
// every subgraph it calls. A refused request is answered before any subgraph is called.
import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import { ApolloServer, type GraphQLRequestListener, HeaderMap } from '@apollo/server';
import type { RequestContext } from '@mauntic/kernel';
import {
  CORRELATION_HEADER,
  createMemoryRateLimiter,
  type HttpHandler,
  type HttpRequest,
  type Logger,
  maskUnexpected,
  type RateLimiter,
  runWithLogScope,
} from '@mauntic/platform';
import { type DocumentNode, parse } from 'graphql';
import { LRUCache } from 'lru-cache';
import { type ApiKeyVerifier, authenticate, correlationIdFrom } from './auth.ts';
import { costModelOf } from './cost-model.ts';
import type { GatewayContext } from './data-sources.ts';
import { gatewayModel, rateLimitSettings } from './environment.ts';
import {
  checkDocument,
  checkIntrospection,
  checkMeasure,
  type DocumentLimits,
  type IntrospectionAccess,
  measureOperation,
} from './limits.ts';
import { budgetOf, clientAddress, limiterFailureLog, type RateLimitSettings, spend } from './rate-limits.ts';

export interface GatewayOptions {
  supergraphSdl: string;
  dataSource: (name: string, url: string) => GraphQLDataSource<GatewayContext>;
  jwtKey: Uint8Array;
  verifyApiKey: ApiKeyVerifier;
  logger: Logger;
  maxDepth: number;
  maxCost: number;
  corsOrigins: string;
  // The settings below default to gatewayModel's defaults.
  maxAliases?: number;
  maxRootFields?: number;
  maxFragments?: number;
  maxTokens?: number;
  introspection?: IntrospectionAccess;
  rateLimits?: RateLimitSettings;
  /** Where request budgets are kept; default: this process's memory. */
  rateLimiter?: RateLimiter;
}

const DEFAULTS = gatewayModel.parse({});

/** The query limits, as one request listener shared by every request: it keeps no state of its own. */
function limitsListener(options: GatewayOptions): GraphQLRequestListener<GatewayContext> {
  const operationLimits = {
    maxDepth: options.maxDepth,
    maxCost: options.maxCost,
    maxRootFields: options.maxRootFields ?? DEFAULTS.GATEWAY_MAX_ROOT_FIELDS,
  };
  const introspection = options.introspection ?? DEFAULTS.GATEWAY_INTROSPECTION;
  return {
    didResolveOperation: async ({ document, operation, request, schema, contextValue }) => {
      if (!operation) return;
      const measure = measureOperation(document, operation, request.variables ?? {}, costModelOf(schema));
      checkIntrospection(measure, introspection, contextValue.request.actor.type === 'anonymous');
      checkMeasure(measure, operationLimits);
    },
  };
}

/** The query a GraphQL request carries: in a POST's JSON body, or a GET's search. */
function queryText(req: HttpRequest, body: unknown): unknown {
  if (req.method === 'GET') return new URLSearchParams(req.search).get('query');
  return (body as { query?: unknown } | undefined)?.query;
}

export class Gateway {
  private readonly apollo: ApolloServer<GatewayContext>;
  private readonly rateLimiter: RateLimiter;
  private readonly rateLimits: RateLimitSettings;
  private readonly limiterFailed: (error: unknown) => void;
  private readonly documentLimits: DocumentLimits;
  private readonly maxTokens: number;
  /** Query texts lately found within the shape limits, so a query is parsed for them only once. */
  private readonly withinShape = new LRUCache<string, true>({
    maxSize: 16 * 1024 * 1024,
    sizeCalculation: (_, query) => Math.max(1, query.length),
  });

  constructor(private readonly options: GatewayOptions) {
    this.rateLimiter = options.rateLimiter ?? createMemoryRateLimiter();
    this.rateLimits = options.rateLimits ?? rateLimitSettings(DEFAULTS);
    this.limiterFailed = limiterFailureLog(options.logger);
    this.documentLimits = {
      maxAliases: options.maxAliases ?? DEFAULTS.GATEWAY_MAX_ALIASES,
      maxFragments: options.maxFragments ?? DEFAULTS.GATEWAY_MAX_FRAGMENTS,
    };
    this.maxTokens = options.maxTokens ?? DEFAULTS.GATEWAY_MAX_TOKENS;
    const gateway = new ApolloGateway({
      supergraphSdl: options.supergraphSdl,
      buildService: ({ name, url }) => options.dataSource(name, url ?? ''),
      // Each fetch of a cached plan carries its parsed operation: an in-process subgraph runs it as is.
      queryPlannerConfig: { exposeDocumentNodeInFetchNode: true },
      logger: {
        debug: () => {},
        info: () => {},
        warn: (m) => options.logger.warn(String(m)),
        error: (m) => options.logger.error(String(m)),
      },
    });
    const limits = limitsListener(options);
    this.apollo = new ApolloServer<GatewayContext>({
      gateway,
      includeStacktraceInErrorResponses: false,
      formatError: maskUnexpected(options.logger),
      // Parsing stops there: a huge document costs no more to refuse than a small one.
      parseOptions: { maxTokens: this.maxTokens },
      plugins: [{ requestDidStart: async () => limits }],
    });
  }

  /** Who calls, once their request is within their budget (a failed sign-in spends the address's). */
  private async caller(req: HttpRequest, correlationId: string): Promise<RequestContext> {
    const address = clientAddress(req, this.rateLimits.trustedProxies);
    let caller: RequestContext;
    try {
      caller = await authenticate(req.headers.authorization, correlationId, {
        jwtKey: this.options.jwtKey,
        verifyApiKey: this.options.verifyApiKey,
      });
    } catch (error) {
      await spend(this.rateLimiter, budgetOf(undefined, address, this.rateLimits), this.limiterFailed);
      throw error;
    }
    await spend(this.rateLimiter, budgetOf(caller, address, this.rateLimits), this.limiterFailed);
    return caller;
  }

  /**
   * Refuses a query whose shape is over the limits before Apollo parses and validates it. A query
   * that does not parse is left to Apollo, which answers it as the syntax error it is.
   */
  private checkDocumentShape(query: unknown): void {
    if (typeof query !== 'string' || this.withinShape.has(query)) return;
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: this.maxTokens });
    } catch {
      return; // Apollo's own parse refuses it the same way, and answers it
    }
    checkDocument(document, this.documentLimits);
    this.withinShape.set(query, true);
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
          context: async () => {
            const request = await this.caller(req, correlationId);
            this.checkDocumentShape(queryText(req, body));
            return { request };
          },
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
