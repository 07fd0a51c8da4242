// The gateway: one GraphQL endpoint over the composed supergraph. It authenticates the caller,
// spends the caller's request budget, enforces the query limits, and passes a signed context to
// every subgraph it calls. A refused request is answered before any subgraph is called.
//
// @apollo/gateway plans and runs each operation; the HTTP side is ours (graphql-request.ts):
// Apollo Server's per-request pipeline cost about three times what planning and running the
// operation did. Documents are parsed, checked and validated once per query text.
import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
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
import {
  type DocumentNode,
  type ExecutionResult,
  execute,
  GraphQLError,
  type GraphQLSchema,
  getOperationAST,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate,
} from 'graphql';
import { LRUCache } from 'lru-cache';
import { type ApiKeyVerifier, authenticateCredential, type Credential, correlationIdFrom } from './auth.ts';
import { costModelOf } from './cost-model.ts';
import { type GatewayContext, tracedDataSource } from './data-sources.ts';
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
import { mergeSubscriptionSchema, type SubscriptionSettings, Subscriptions } from './subscriptions/service.ts';

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
  /** Where subscriptions get their events; without it, subscribing is refused (the type is still served). */
  subscriptions?: SubscriptionSettings;
}

/** An operation admitted to run: parsed, within the limits, valid, for a known caller. */
export interface Admitted {
  served: { schema: GraphQLSchema; executor: Executor };
  request: GraphQLRequest;
  caller: RequestContext;
  document: DocumentNode;
  hash: string;
  operation: OperationDefinitionNode;
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
  private readonly subscriptions: Subscriptions;
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
      buildService: ({ name, url }) => tracedDataSource(name, options.dataSource(name, url ?? '')),
      // Each fetch of a cached plan carries its parsed operation: an in-process subgraph runs it as is.
      queryPlannerConfig: { exposeDocumentNodeInFetchNode: true },
      logger: this.apolloLogger,
    });
    this.subscriptions = new Subscriptions(this, options.subscriptions, this.mask, options.logger);
  }

  async start(): Promise<void> {
    const { schema, executor } = await this.gateway.load();
    if (!schema || !executor) throw new Error('the gateway loaded no schema from the supergraph');
    // The API schema with the gateway's own Subscription type: what is validated and introspected.
    this.served = { schema: mergeSubscriptionSchema(schema), executor };
    await this.subscriptions.start();
  }

  /** Ends the open subscriptions (clients reconnect elsewhere with `after`); before the HTTP server closes. */
  stopSubscriptions(): Promise<void> {
    return this.subscriptions.stop();
  }

  async stop(): Promise<void> {
    await this.subscriptions.stop();
    await this.gateway.stop();
  }

  /** Serves graphql-ws on the server's /graphql (WebSocket upgrades). */
  attachWebSockets(server: Server): void {
    this.subscriptions.attach(server);
  }

  /** Who calls, once their request is within their budget (a failed sign-in spends the address's). */
  async credential(authorization: string | undefined, address: string, correlationId: string): Promise<Credential> {
    let credential: Credential;
    try {
      credential = await authenticateCredential(authorization, correlationId, {
        jwtKey: this.options.jwtKey,
        verifyApiKey: this.options.verifyApiKey,
      });
    } catch (error) {
      await spend(this.rateLimiter, budgetOf(undefined, address, this.rateLimits), this.limiterFailed);
      throw error;
    }
    await spend(this.rateLimiter, budgetOf(credential.caller, address, this.rateLimits), this.limiterFailed);
    return credential;
  }

  /** The address budgets are kept by: the socket's peer, or the one the trusted proxies name. */
  addressOf(req: Pick<HttpRequest, 'headers' | 'raw'>): string {
    return clientAddress(req, this.rateLimits.trustedProxies);
  }

  /** Spends one request of the caller's budget (each operation sent over a WebSocket). */
  spend(caller: RequestContext, address: string): Promise<void> {
    return spend(this.rateLimiter, budgetOf(caller, address, this.rateLimits), this.limiterFailed);
  }

  verifyApiKey(key: string) {
    return this.options.verifyApiKey(key);
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
  private async admitted(req: HttpRequest, correlationId: string): Promise<Admitted> {
    const request = graphQLRequestOf(req);
    const { caller } = await this.credential(req.headers.authorization, this.addressOf(req), correlationId);
    return this.admit(request, caller, req.method);
  }

  /** An operation's checks once its caller is known (HTTP, WebSocket and SSE alike); thrown: Refused or GraphQLError. */
  admit(request: GraphQLRequest, caller: RequestContext, method = 'POST'): Admitted {
    const served = this.served;
    if (!served) throw new Error('the gateway has not started');
    const { document, hash } = this.checkedDocument(request.query, served.schema);
    const operation = getOperationAST(document, request.operationName);
    if (!operation)
      throw badRequest(
        request.operationName
          ? `Unknown operation named "${request.operationName}".`
          : 'Must provide operation name if query contains multiple operations.',
        'OPERATION_RESOLUTION_FAILURE',
      );
    if (method === 'GET' && operation.operation !== 'query')
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

  /** A refusal as the client sees it (thrown by admit()), or undefined for an unexpected error. */
  refusalOf(error: unknown): GraphQLAnswer | undefined {
    if (error instanceof Refused) return refusal(error.errors, this.mask, error.code);
    if (error instanceof GraphQLError) return refusal([error], this.mask, 'BAD_REQUEST');
    return undefined;
  }

  private async answer(req: HttpRequest, correlationId: string): Promise<GraphQLAnswer> {
    let admitted: Admitted;
    try {
      admitted = await this.admitted(req, correlationId);
    } catch (error) {
      const refused = this.refusalOf(error);
      if (refused) return refused;
      throw error;
    }
    if (admitted.operation.operation === 'subscription')
      return refusal(
        [
          badRequest(
            'Subscriptions are served over graphql-ws (a WebSocket on this path) or SSE (Accept: text/event-stream)',
            'BAD_REQUEST',
            {
              status: 405,
            },
          ),
        ],
        this.mask,
        'BAD_REQUEST',
      );
    let result: ExecutionResult;
    try {
      result = await this.run(admitted);
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

  /**
   * Runs an admitted query or mutation. Introspection alone is answered from the served schema
   * (which holds the gateway's Subscription type, unknown to @apollo/gateway's own schema).
   */
  run(admitted: Admitted): Promise<ExecutionResult> | ExecutionResult {
    const { served, request, caller, document, hash, operation } = admitted;
    if (operation.selectionSet.selections.every((s) => s.kind === Kind.FIELD && s.name.value.startsWith('__')))
      return execute({
        schema: served.schema,
        document,
        operationName: operation.name?.value ?? null,
        variableValues: request.variables ?? {},
      });
    return served.executor({
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
      if (req.method === 'POST' && req.headers.accept?.includes('text/event-stream'))
        return this.subscriptions.sse(req, correlationId, { ...cors, [CORRELATION_HEADER]: correlationId });
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
