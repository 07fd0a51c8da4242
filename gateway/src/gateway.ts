// The gateway: one GraphQL endpoint over the composed supergraph. It authenticates the caller,
// spends the caller's request budget, enforces the query limits, and passes a signed context to
// every subgraph it calls. A refused request is answered before any subgraph is called.
//
// @apollo/gateway plans and runs each operation; the HTTP side is ours (graphql-request.ts):
// Apollo Server's per-request pipeline cost about three times what planning and running the
// operation did. Documents are parsed, checked and validated once per query text.
import { createHash } from 'node:crypto';
import { ApolloGateway, type GraphQLDataSource } from '@apollo/gateway';
import type { RequestContext } from '@mauntic/kernel';
import {
  answerOf,
  CORRELATION_HEADER,
  createMemoryRateLimiter,
  type ErrorMask,
  type GraphQLAnswer,
  type HttpHandler,
  type HttpRequest,
  httpAnswer,
  type Logger,
  maskUnexpected,
  type RateLimiter,
  refusal,
  runWithLogScope,
} from '@mauntic/platform';
import { type DocumentNode, GraphQLError, type GraphQLSchema, getOperationAST, parse, validate } from 'graphql';
import { LRUCache } from 'lru-cache';
import { type ApiKeyVerifier, authenticate, correlationIdFrom } from './auth.ts';
import { costModelOf } from './cost-model.ts';
import type { GatewayContext } from './data-sources.ts';
import { gatewayModel, rateLimitSettings } from './environment.ts';
import { badRequest, type GraphQLRequest, graphQLRequestOf } from './graphql-request.ts';
import {
  checkDocument,
  checkIntrospection,
  checkMeasure,
  type DocumentLimits,
  type IntrospectionAccess,
  measureOperation,
  type OperationLimits,
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

type Executor = NonNullable<Awaited<ReturnType<ApolloGateway['load']>>['executor']>;
type ExecutionContext = Parameters<Executor>[0];

/** A query text once parsed, within the shape limits and valid against the served schema. */
interface CheckedDocument {
  document: DocumentNode;
  /** The key of its query plan in @apollo/gateway's plan cache. */
  hash: string;
}

// Nothing in @apollo/gateway's execution reads the request's cache; the executor's type asks for one.
const NO_CACHE: ExecutionContext['cache'] = {
  get: async () => undefined,
  set: async () => {},
  delete: async () => true,
};

export class Gateway {
  private readonly gateway: ApolloGateway;
  private served?: { schema: GraphQLSchema; executor: Executor };
  private readonly mask: ErrorMask;
  private readonly rateLimiter: RateLimiter;
  private readonly rateLimits: RateLimitSettings;
  private readonly limiterFailed: (error: unknown) => void;
  private readonly documentLimits: DocumentLimits;
  private readonly operationLimits: OperationLimits;
  private readonly introspection: IntrospectionAccess;
  private readonly maxTokens: number;
  private readonly corsOrigins: string[];
  private readonly apolloLogger: ExecutionContext['logger'];
  /** Query texts lately found within the limits and valid, so each is parsed and validated once. */
  private readonly documents = new LRUCache<string, CheckedDocument>({
    maxSize: 16 * 1024 * 1024,
    sizeCalculation: (_, query) => Math.max(1, query.length),
  });

  constructor(private readonly options: GatewayOptions) {
    this.mask = maskUnexpected(options.logger);
    this.rateLimiter = options.rateLimiter ?? createMemoryRateLimiter();
    this.rateLimits = options.rateLimits ?? rateLimitSettings(DEFAULTS);
    this.limiterFailed = limiterFailureLog(options.logger);
    this.documentLimits = {
      maxAliases: options.maxAliases ?? DEFAULTS.GATEWAY_MAX_ALIASES,
      maxFragments: options.maxFragments ?? DEFAULTS.GATEWAY_MAX_FRAGMENTS,
    };
    this.operationLimits = {
      maxDepth: options.maxDepth,
      maxCost: options.maxCost,
      maxRootFields: options.maxRootFields ?? DEFAULTS.GATEWAY_MAX_ROOT_FIELDS,
    };
    this.introspection = options.introspection ?? DEFAULTS.GATEWAY_INTROSPECTION;
    this.maxTokens = options.maxTokens ?? DEFAULTS.GATEWAY_MAX_TOKENS;
    this.corsOrigins = options.corsOrigins.split(',').map((o) => o.trim());
    this.apolloLogger = {
      debug: () => {},
      info: () => {},
      warn: (m) => options.logger.warn(String(m)),
      error: (m) => options.logger.error(String(m)),
    };
    this.gateway = new ApolloGateway({
      supergraphSdl: options.supergraphSdl,
      buildService: ({ name, url }) => options.dataSource(name, url ?? ''),
      // Each fetch of a cached plan carries its parsed operation: an in-process subgraph runs it as is.
      queryPlannerConfig: { exposeDocumentNodeInFetchNode: true },
      logger: this.apolloLogger,
    });
  }

  async start(): Promise<void> {
    const { schema, executor } = await this.gateway.load();
    if (!schema || !executor) throw new Error('the gateway loaded no schema from the supergraph');
    this.served = { schema, executor };
  }

  stop(): Promise<void> {
    return this.gateway.stop();
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
   * The query parsed (stopping past maxTokens), within the shape limits, then validated: the shape
   * is checked first because validation's cost grows with the square of a repeated field.
   */
  private checkedDocument(query: string, schema: GraphQLSchema): CheckedDocument {
    const known = this.documents.get(query);
    if (known) return known;
    let document: DocumentNode;
    try {
      document = parse(query, { maxTokens: this.maxTokens });
    } catch (error) {
      throw new Refused([error as GraphQLError], 'GRAPHQL_PARSE_FAILED');
    }
    checkDocument(document, this.documentLimits);
    const invalid = validate(schema, document);
    if (invalid.length) throw new Refused(invalid, 'GRAPHQL_VALIDATION_FAILED');
    const checked = { document, hash: createHash('sha256').update(query).digest('hex') };
    this.documents.set(query, checked);
    return checked;
  }

  /** Everything a request goes through before its operation runs; what it fails is thrown. */
  private async admitted(req: HttpRequest, correlationId: string) {
    const served = this.served;
    if (!served) throw new Error('the gateway has not started');
    const request = graphQLRequestOf(req);
    const caller = await this.caller(req, correlationId);
    const { document, hash } = this.checkedDocument(request.query, served.schema);
    const operation = getOperationAST(document, request.operationName);
    if (!operation)
      throw badRequest(
        request.operationName
          ? `Unknown operation named "${request.operationName}".`
          : 'Must provide operation name if query contains multiple operations.',
        'OPERATION_RESOLUTION_FAILURE',
      );
    if (req.method === 'GET' && operation.operation !== 'query')
      throw badRequest(
        `GET requests only support query operations, not ${operation.operation} operations`,
        'BAD_REQUEST',
        {
          status: 405,
          headers: { allow: 'POST' },
        },
      );
    const measure = measureOperation(document, operation, request.variables ?? {}, costModelOf(served.schema));
    checkIntrospection(measure, this.introspection, caller.actor.type === 'anonymous');
    checkMeasure(measure, this.operationLimits);
    return { served, request, caller, document, hash, operation };
  }

  private async answer(req: HttpRequest, correlationId: string): Promise<GraphQLAnswer> {
    let admitted: Awaited<ReturnType<Gateway['admitted']>>;
    try {
      admitted = await this.admitted(req, correlationId);
    } catch (error) {
      if (error instanceof Refused) return refusal(error.errors, this.mask, error.code);
      if (error instanceof GraphQLError) return refusal([error], this.mask, 'BAD_REQUEST');
      throw error;
    }
    const { served, request, caller, document, hash, operation } = admitted;
    let result: Awaited<ReturnType<Executor>>;
    try {
      result = await served.executor({
        request: requestFor(request),
        logger: this.apolloLogger,
        schema: served.schema,
        schemaHash: '' as ExecutionContext['schemaHash'],
        context: { request: caller } satisfies GatewayContext,
        cache: NO_CACHE,
        queryHash: hash,
        document,
        source: request.query,
        operationName: operation.name?.value ?? null,
        operation,
        metrics: {},
        overallCachePolicy: undefined,
      });
    } catch (error) {
      // Masked and logged once, as an unexpected error in a result is.
      return refusal(
        [new GraphQLError((error as Error).message, { originalError: error as Error })],
        this.mask,
        'INTERNAL_SERVER_ERROR',
        500,
      );
    }
    return answerOf(result, this.mask);
  }

  private corsHeaders(origin: string | undefined): Record<string, string> {
    const allowed = this.corsOrigins;
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
      return runWithLogScope({ correlationId }, async () =>
        httpAnswer(await this.answer(req, correlationId), { ...cors, [CORRELATION_HEADER]: correlationId }),
      );
    };
  }
}

/** Several errors that refuse one request, with the code they share (validation's). */
class Refused extends Error {
  constructor(
    readonly errors: readonly GraphQLError[],
    readonly code: string,
  ) {
    super(errors[0]?.message);
  }
}

const requestFor = ({ query, variables, operationName, extensions }: GraphQLRequest): ExecutionContext['request'] => ({
  query,
  ...(variables ? { variables } : {}),
  ...(operationName ? { operationName } : {}),
  ...(extensions ? { extensions } : {}),
});
