// Subscriptions at the gateway, over graphql-ws (a WebSocket upgrade on /graphql) and over SSE
// (a POST to /graphql with `Accept: text/event-stream`, graphql-sse's "distinct connections"
// mode). Either way an operation is admitted as a query is (same limits, same budget), the caller
// is authenticated once per connection (connection_init's `authorization`, or the header), and
// the connection is closed when the token expires or the API key stops being valid.

import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { hasScope } from '@mauntic/kernel';
import {
  answerOf,
  DEFAULT_MAX_BODY_BYTES,
  type ErrorMask,
  type HttpRequest,
  type HttpResponse,
  type Logger,
  refusal,
  runWithLogScope,
} from '@mauntic/platform';
import {
  type ExecutionArgs,
  type ExecutionResult,
  extendSchema,
  type FieldNode,
  GraphQLError,
  type GraphQLSchema,
  getArgumentValues,
  Kind,
  parse,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { type Credential, correlationIdFrom } from '../auth.ts';
import type { Admitted, Gateway } from '../gateway.ts';
import { type GraphQLRequest, graphQLRequestOf } from '../graphql-request.ts';
import { executeEvent, type QueryRunner } from './execute.ts';
import { ROOT_FIELDS } from './fields.ts';
import {
  CLOSE,
  type CloseReason,
  type Connection,
  type EventResult,
  SubscriptionHub,
  type SubscriptionLimits,
} from './hub.ts';
import type { EventSource } from './sources.ts';

export const SUBSCRIPTIONS_SDL_PATH = createRequire(import.meta.url).resolve('@mauntic/schema/subscriptions.graphql');

/** The API schema with the gateway's Subscription type (schema/subscriptions.graphql). */
export function mergeSubscriptionSchema(api: GraphQLSchema, sdl = readFileSync(SUBSCRIPTIONS_SDL_PATH, 'utf8')) {
  return extendSchema(api, parse(sdl));
}

export interface SubscriptionSettings {
  source: EventSource;
  limits: SubscriptionLimits;
  /** How often an API key is checked again while its connection is open. */
  recheckMs: number;
}

const SSE_KEEPALIVE_MS = 12_000;
/** Bytes an SSE response may hold unread before its subscription waits (and, waiting long, counts as slow). */
const SSE_HIGH_WATER = 256 * 1024;

const unavailable = () =>
  new GraphQLError('Subscriptions are not available on this gateway (no event source is configured)', {
    extensions: { code: 'SUBSCRIPTIONS_UNAVAILABLE' },
  });

interface ConnectionState extends Connection {
  credential: Credential;
  address: string;
  stop(): void;
}

export class Subscriptions {
  private readonly hub?: SubscriptionHub;
  private readonly runQuery: QueryRunner;
  private wss?: WebSocketServer;

  constructor(
    private readonly gateway: Gateway,
    private readonly settings: SubscriptionSettings | undefined,
    private readonly mask: ErrorMask,
    private readonly logger: Logger,
  ) {
    if (settings) this.hub = new SubscriptionHub(settings.source, settings.limits, logger);
    this.runQuery = async (query, variables, caller) => {
      const admitted = gateway.admit({ query: query.source, variables, operationName: 'SubscriptionEntity' }, caller);
      return gateway.run({ ...admitted, document: query.document, operation: query.operation, hash: query.hash });
    };
  }

  async start() {
    await this.hub?.start();
  }

  private stopping?: Promise<void>;

  stop() {
    this.stopping ??= (async () => {
      await this.hub?.stop();
      for (const socket of this.wss?.clients ?? []) socket.close(CLOSE.GOING_AWAY.code, CLOSE.GOING_AWAY.reason);
      this.wss?.close();
    })();
    return this.stopping;
  }

  /** A connection of `credential`, closed when its token expires or its API key is revoked. */
  private connection(credential: Credential, address: string, close: (reason: CloseReason) => void): ConnectionState {
    const timers: NodeJS.Timeout[] = [];
    let closed = false;
    const state: ConnectionState = {
      caller: credential.caller,
      credential,
      address,
      open: 0,
      close: (reason) => {
        if (closed) return;
        closed = true;
        state.stop();
        close(reason);
      },
      stop: () => {
        for (const t of timers) clearTimeout(t); // clears intervals too
        this.hub?.untrack(state);
      },
    };
    if (credential.expiresAt !== undefined)
      timers.push(setTimeout(() => state.close(CLOSE.TOKEN_EXPIRED), Math.max(0, credential.expiresAt - Date.now())));
    const key = credential.apiKey;
    if (key && this.settings)
      timers.push(
        setInterval(() => {
          this.gateway.verifyApiKey(key).then(
            (principal) => principal === null && state.close(CLOSE.CREDENTIALS_REVOKED),
            (err: unknown) => this.logger.warn({ err }, 'subscriptions: could not check an API key again; keeping it'),
          );
        }, this.settings.recheckMs),
      );
    for (const t of timers) t.unref();
    this.hub?.track(state);
    return state;
  }

  /**
   * Checks a subscription operation and opens it: its results, or the errors refusing it.
   * `lastEventId`: the SSE header, for fields given no `after`.
   */
  private async open(
    connection: ConnectionState,
    admitted: Admitted,
    lastEventId?: string,
  ): Promise<AsyncGenerator<EventResult> | readonly GraphQLError[]> {
    const hub = this.hub;
    if (!hub) return [unavailable()];
    const { caller } = connection;
    if (!caller.organizationId)
      return [
        new GraphQLError('Subscriptions need a session token or an API key', {
          extensions: { code: 'UNAUTHENTICATED' },
        }),
      ];
    const { served, document, operation, request } = admitted;
    const root = operation.selectionSet.selections[0];
    if (root?.kind !== Kind.FIELD)
      return [new GraphQLError('Select the subscription field directly, not through a fragment')];
    const field = ROOT_FIELDS[root.name.value];
    const definition = served.schema.getSubscriptionType()?.getFields()[root.name.value];
    if (!field || !definition) return [new GraphQLError(`Unknown subscription field ${root.name.value}`)];
    if (!hasScope(caller.scopes, field.scope))
      return [
        new GraphQLError(`Subscribing to ${root.name.value} needs the ${field.scope} scope`, {
          extensions: { code: 'FORBIDDEN' },
        }),
      ];
    let args: Record<string, unknown>;
    try {
      args = getArgumentValues(definition, root as FieldNode, request.variables ?? {});
    } catch (error) {
      return [error as GraphQLError];
    }
    const after = (args.after as string | undefined) ?? lastEventId;
    const responseKey = root.alias?.value ?? root.name.value;
    const variables = request.variables ?? {};
    const context = { caller, variables, runQuery: this.runQuery };
    const opened = await hub.subscribe(connection, field, args, after, async (event) =>
      runWithLogScope({ correlationId: caller.correlationId }, async () =>
        executeEvent(served.schema, document, request.operationName, responseKey, field.payload(event), context),
      ),
    );
    return opened instanceof GraphQLError ? [opened] : opened;
  }

  /** graphql-ws on the server's /graphql. */
  attach(server: Server) {
    // A message no larger than an HTTP request's body (ws would take 100 MiB): past it, close 1009.
    const wss = new WebSocketServer({ noServer: true, maxPayload: DEFAULT_MAX_BODY_BYTES });
    this.wss = wss;
    server.on('upgrade', (request, socket, head) => {
      if (new URL(request.url ?? '/', 'http://localhost').pathname !== '/graphql') return socket.destroy();
      wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
    });
    useServer<Record<string, unknown>, { connection?: ConnectionState }>(
      {
        // An unexpected failure closes with 4500 "Internal server error", never its own message,
        // whatever NODE_ENV says (graphql-ws's default reads it).
        isProd: true,
        onConnect: async (ctx) => {
          const params = ctx.connectionParams ?? {};
          const given = params.authorization ?? params.Authorization ?? ctx.extra.request.headers.authorization;
          const authorization = typeof given === 'string' ? given : undefined;
          const { request, socket } = ctx.extra;
          const address = this.gateway.addressOf({ headers: request.headers, raw: request });
          let credential: Credential;
          try {
            credential = await this.gateway.credential(authorization, address, correlationIdFrom(undefined));
          } catch (error) {
            socket.close(CloseCode.Unauthorized, (error as Error).message.slice(0, 120));
            return false;
          }
          ctx.extra.connection = this.connection(credential, address, (reason) =>
            socket.close(reason.code, reason.reason),
          );
          return true;
        },
        onClose: (ctx) => ctx.extra.connection?.stop(),
        onSubscribe: async (ctx, _id, payload) => {
          const connection = ctx.extra.connection!;
          let admitted: Admitted;
          try {
            await this.gateway.spend(connection.caller, connection.address);
            admitted = this.gateway.admit(this.requestOf(payload), connection.caller);
          } catch (error) {
            return this.errorsOf(error);
          }
          // Opened here, so a refused subscription is answered with an `error` message.
          let results: AsyncGenerator<EventResult> | undefined;
          if (admitted.operation.operation === 'subscription') {
            const opened = await this.open(connection, admitted);
            if (Array.isArray(opened)) return opened as GraphQLError[];
            results = opened as AsyncGenerator<EventResult>;
          }
          return {
            schema: admitted.served.schema,
            document: admitted.document,
            operationName: admitted.operation.name?.value,
            variableValues: admitted.request.variables,
            contextValue: { admitted, results },
          } satisfies ExecutionArgs;
        },
        subscribe: (args) => this.resultsOf((args.contextValue as { results: AsyncGenerator<EventResult> }).results),
        execute: (args) => this.gateway.run((args.contextValue as { admitted: Admitted }).admitted),
        // Results and errors masked as an HTTP answer's are.
        onNext: (_ctx, _id, _payload, _args, result) => answerOf(result as ExecutionResult, this.mask).result,
        onError: (_ctx, _id, _payload, errors) => refusal(errors, this.mask, 'BAD_REQUEST').result.errors as never,
      },
      wss,
    );
  }

  private requestOf(payload: { query: string; variables?: unknown; operationName?: unknown; extensions?: unknown }) {
    return graphQLRequestOf({
      method: 'POST',
      path: '/graphql',
      search: '',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify(payload)),
      raw: undefined as never,
    });
  }

  private errorsOf(error: unknown): GraphQLError[] {
    const refused = this.gateway.refusalOf(error);
    if (!refused) throw error;
    return (refused.result.errors ?? []).map((e) => new GraphQLError(e.message, { extensions: { ...e.extensions } }));
  }

  /**
   * The events' results, ended through to the hub's subscription when the client completes it or
   * the socket closes (a generator wrapping it would wait for the next event before ending).
   */
  private resultsOf(results: AsyncGenerator<EventResult>): AsyncIterableIterator<ExecutionResult> {
    const done = { done: true, value: undefined } as const;
    const iterator: AsyncIterableIterator<ExecutionResult> = {
      next: async () => {
        const next = await results.next();
        return next.done ? done : { done: false, value: next.value.result };
      },
      return: async () => {
        await results.return(undefined);
        return done;
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** SSE: one subscription per response, `event: next` per event (its `id:` the event's), then `complete`. */
  async sse(req: HttpRequest, correlationId: string, headers: Record<string, string>): Promise<HttpResponse> {
    const json = (answer: { status: number; headers: Record<string, string>; result: unknown }) => ({
      status: answer.status,
      headers: { ...headers, ...answer.headers, 'content-type': 'application/json' },
      body: JSON.stringify(answer.result),
    });
    let request: GraphQLRequest;
    let admitted: Admitted;
    let credential: Credential;
    const address = this.gateway.addressOf(req);
    try {
      request = graphQLRequestOf(req);
      credential = await this.gateway.credential(req.headers.authorization, address, correlationId);
      admitted = this.gateway.admit(request, credential.caller);
    } catch (error) {
      const refused = this.gateway.refusalOf(error);
      if (!refused) throw error;
      return json(refused);
    }
    if (admitted.operation.operation !== 'subscription')
      return json(answerOf(await this.gateway.run(admitted), this.mask));

    const stream = new Readable({ read: () => resume?.() });
    let resume: (() => void) | undefined;
    const write = (text: string) => stream.push(text);
    let results: AsyncGenerator<EventResult> | undefined;
    const connection = this.connection(credential, address, (reason) => {
      write(
        `event: next\ndata: ${JSON.stringify({ errors: [{ message: reason.reason, extensions: { code: 'CONNECTION_CLOSED', closeCode: reason.code } }] })}\n\n`,
      );
      write('event: complete\ndata: \n\n');
      stream.push(null);
      void results?.return(undefined);
    });
    const lastEventId = req.headers['last-event-id'];
    const opened = await this.open(connection, admitted, typeof lastEventId === 'string' ? lastEventId : undefined);
    if (Array.isArray(opened)) {
      connection.stop();
      return json(refusal(opened as GraphQLError[], this.mask, 'BAD_REQUEST'));
    }
    results = opened as AsyncGenerator<EventResult>;
    // A first comment at once: the response's headers go out with it, so the client knows it is subscribed.
    write(':\n\n');
    const keepAlive = setInterval(() => write(':\n\n'), SSE_KEEPALIVE_MS);
    stream.once('close', () => {
      clearInterval(keepAlive);
      connection.stop();
      void results?.return(undefined);
    });
    void (async () => {
      try {
        for await (const { id, result } of results) {
          const more = write(`id: ${id}\nevent: next\ndata: ${JSON.stringify(answerOf(result, this.mask).result)}\n\n`);
          // A client that does not read: wait for it (the hub drops it once its queue is full).
          if (!more && stream.readableLength > SSE_HIGH_WATER) await new Promise<void>((r) => (resume = r));
          resume = undefined;
        }
      } catch (err) {
        this.logger.error({ err }, 'subscriptions: an SSE stream failed');
      } finally {
        if (!stream.destroyed && !stream.readableEnded) connection.close(CLOSE.GOING_AWAY);
      }
    })();
    return {
      status: 200,
      headers: {
        ...headers,
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      },
      body: stream,
    };
  }
}
