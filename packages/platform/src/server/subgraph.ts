// A subgraph: its schema, executed for a caller whose context comes only from a valid signed
// header. `execute` serves both modes: the HTTP route (cluster) parses the body and calls it, and
// the embedded gateway calls it in-process with the operation it already parsed, so both modes
// run one code path. Subgraphs are called by the gateway only, so this is graphql-js with the few
// things a gateway needs (documents parsed and validated once, answered as graphql-answer.ts
// shapes every answer), not a public GraphQL server.
import { type DocumentNode, execute, GraphQLError, type GraphQLSchema, parse, validate } from 'graphql';
import type { SubgraphContext } from '../graphql/builder.ts';
import { type Logger, runWithLogScope } from '../logger.ts';
import { answerOf, type ErrorMask, type GraphQLAnswer, httpAnswer, maskUnexpected, refusal } from './graphql-answer.ts';
import type { HttpRequest, HttpResponse } from './http.ts';
import { INTERNAL_CONTEXT_HEADER, verifyInternalContext } from './internal-context.ts';

export interface SubgraphOptions {
  name: string;
  schema: GraphQLSchema;
  /** The subgraph's use cases, handed to resolvers as ctx.services. */
  services: unknown;
  internalKey: Uint8Array;
  logger: Logger;
}

export interface SubgraphRequest {
  /** The signed internal context (INTERNAL_CONTEXT_HEADER). */
  context: string | undefined;
  /** The operation's text; an in-process caller may give its parsed `document` instead. */
  query?: string;
  document?: DocumentNode;
  variables?: Record<string, unknown>;
  operationName?: string;
}

const MAX_QUERY_CACHE_CHARS = 16 * 1024 * 1024;

export class Subgraph {
  readonly name: string;
  private readonly mask: ErrorMask;
  /**
   * Query texts already parsed and found valid (the gateway sends the same few again and again),
   * oldest first, up to MAX_QUERY_CACHE_CHARS of text.
   */
  private readonly parsed = new Map<string, DocumentNode>();
  private parsedChars = 0;
  /** Documents given in-process (the gateway's query plans keep them) already validated. */
  private readonly validated = new WeakSet<DocumentNode>();

  constructor(private readonly options: SubgraphOptions) {
    this.name = options.name;
    this.mask = maskUnexpected(options.logger);
  }

  /** Kept for the runtime's lifecycle: a subgraph holds nothing to open or close. */
  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  async execute(request: SubgraphRequest): Promise<GraphQLAnswer> {
    // No context, no work: a caller that did not come through the gateway gets nothing parsed.
    let caller: SubgraphContext['request'];
    try {
      caller = verifyInternalContext(request.context, this.options.internalKey);
    } catch (error) {
      return refusal([new GraphQLError((error as Error).message)], this.mask, 'UNAUTHENTICATED', 401);
    }
    const document = request.document ? this.checked(request.document) : this.documentOf(request.query);
    if (!('kind' in document)) return document;
    return runWithLogScope({ correlationId: caller.correlationId }, async () => {
      const contextValue: SubgraphContext = {
        request: caller,
        services: this.options.services,
        log: this.options.logger,
      };
      const result = await execute({
        schema: this.options.schema,
        document,
        variableValues: request.variables,
        operationName: request.operationName,
        contextValue,
      });
      return answerOf(result, this.mask);
    });
  }

  private documentOf(query: string | undefined): DocumentNode | GraphQLAnswer {
    if (typeof query !== 'string' || !query)
      return refusal([new GraphQLError('The request holds no query')], this.mask, 'BAD_REQUEST');
    const known = this.parsed.get(query);
    if (known) return known;
    let document: DocumentNode;
    try {
      document = parse(query);
    } catch (error) {
      return refusal([error as GraphQLError], this.mask, 'GRAPHQL_PARSE_FAILED');
    }
    const checked = this.checked(document);
    if ('kind' in checked) this.remember(query, checked);
    return checked;
  }

  private remember(query: string, document: DocumentNode): void {
    this.parsed.set(query, document);
    this.parsedChars += query.length;
    for (const oldest of this.parsed.keys()) {
      if (this.parsedChars <= MAX_QUERY_CACHE_CHARS) break;
      this.parsed.delete(oldest);
      this.parsedChars -= oldest.length;
    }
  }

  private checked(document: DocumentNode): DocumentNode | GraphQLAnswer {
    if (this.validated.has(document)) return document;
    const errors = validate(this.options.schema, document);
    if (errors.length) return refusal(errors, this.mask, 'GRAPHQL_VALIDATION_FAILED');
    this.validated.add(document);
    return document;
  }

  /** The HTTP route for this subgraph's /graphql: a JSON POST of { query, variables, operationName }. */
  route() {
    return async (req: HttpRequest): Promise<HttpResponse> => {
      if (req.method !== 'POST')
        return { status: 405, headers: { allow: 'POST', 'content-type': 'application/json' }, body: '' };
      let body: Partial<Record<'query' | 'variables' | 'operationName', unknown>>;
      try {
        body = JSON.parse(req.body.toString('utf8'));
      } catch {
        return httpAnswer(refusal([new GraphQLError('The body is not JSON')], this.mask, 'BAD_REQUEST'));
      }
      const header = req.headers[INTERNAL_CONTEXT_HEADER];
      return httpAnswer(
        await this.execute({
          context: Array.isArray(header) ? header[0] : header,
          query: typeof body?.query === 'string' ? body.query : undefined,
          variables: isObject(body?.variables) ? body.variables : undefined,
          operationName: typeof body?.operationName === 'string' ? body.operationName : undefined,
        }),
      );
    };
  }
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// The gateway answers the same way; the package index exports this file, and with it that one.
export * from './graphql-answer.ts';
