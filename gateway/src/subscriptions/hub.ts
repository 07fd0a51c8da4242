// The gateway's subscriptions: one event source fanned out to the subscribers of each organization,
// each subscriber's events turned into results of its own operation (execute.ts), with the limits:
// so many subscriptions per connection and per organization, and a bounded queue per subscription
// (a client that does not keep up is dropped, not buffered for).
import type { EventEnvelope, RequestContext } from '@mauntic/kernel';
import type { Logger } from '@mauntic/platform';
import { type ExecutionResult, GraphQLError } from 'graphql';
import type { RootField } from './fields.ts';
import type { EventSource } from './sources.ts';

/** WebSocket close codes (over SSE: a last error with `closeCode`) the subscriptions end with; docs/graph.md lists them. */
export const CLOSE = {
  /** The session token expired: refresh it and reconnect. */
  TOKEN_EXPIRED: { code: 4401, reason: 'Token expired' },
  /** The credentials are no longer valid (an API key revoked, a user removed). */
  CREDENTIALS_REVOKED: { code: 4403, reason: 'Credentials revoked' },
  /** The client read its events more slowly than they came: reconnect with `after` to resume. */
  SLOW_CONSUMER: { code: 4008, reason: 'Slow consumer' },
  /** The gateway is shutting down: reconnect (to another instance) with `after`. */
  GOING_AWAY: { code: 1001, reason: 'Server shutting down' },
} as const;
export type CloseReason = (typeof CLOSE)[keyof typeof CLOSE];

export interface SubscriptionLimits {
  perConnection: number;
  perOrganization: number;
  /** Events queued for one subscription before its client counts as too slow. */
  queue: number;
}

/** One client connection (a WebSocket, or an SSE response): what the hub can do to it. */
export interface Connection {
  caller: RequestContext;
  close(reason: CloseReason): void;
  /** Subscriptions open on it. */
  open: number;
}

export interface Subscriber {
  connection: Connection;
  field: RootField;
  args: Record<string, unknown>;
  /** The events' results, in order. */
  results: AsyncGenerator<EventResult>;
}

export interface EventResult {
  id: string;
  result: ExecutionResult;
}

const limitError = (message: string) => new GraphQLError(message, { extensions: { code: 'SUBSCRIPTION_LIMIT' } });

interface Registered {
  field: RootField;
  args: Record<string, unknown>;
  push(event: EventEnvelope): void;
}

export class SubscriptionHub {
  private readonly byOrganization = new Map<string, Set<Registered>>();
  private readonly connections = new Set<Connection>();

  constructor(
    private readonly source: EventSource,
    private readonly limits: SubscriptionLimits,
    private readonly logger: Logger,
  ) {
    source.listen((event) => this.dispatch(event));
  }

  start() {
    return this.source.start();
  }

  /** Ends every connection (they reconnect elsewhere), then the source. */
  async stop() {
    for (const connection of this.connections) connection.close(CLOSE.GOING_AWAY);
    this.connections.clear();
    await this.source.stop();
  }

  track(connection: Connection) {
    this.connections.add(connection);
  }

  untrack(connection: Connection) {
    this.connections.delete(connection);
  }

  private dispatch(event: EventEnvelope) {
    const subscribers = this.byOrganization.get(event.organizationId);
    if (!subscribers) return;
    for (const s of subscribers)
      if (s.field.types.includes(event.type) && s.field.accepts(event, s.args)) s.push(event);
  }

  /**
   * Opens a subscription: its results are `run(event)` for each event after `after` (replayed
   * first) and each live one, without duplicates, until the client or the hub ends it.
   */
  async subscribe(
    connection: Connection,
    field: RootField,
    args: Record<string, unknown>,
    after: string | undefined,
    run: (event: EventEnvelope) => Promise<ExecutionResult>,
  ): Promise<AsyncGenerator<EventResult> | GraphQLError> {
    const organizationId = connection.caller.organizationId!;
    if (connection.open >= this.limits.perConnection)
      return limitError(`At most ${this.limits.perConnection} subscriptions on one connection`);
    const peers = this.byOrganization.get(organizationId) ?? new Set<Registered>();
    if (peers.size >= this.limits.perOrganization)
      return limitError(`At most ${this.limits.perOrganization} subscriptions for one organization at a time`);

    const queue: EventEnvelope[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    /** Live events held back until the replay is out, and the replayed ids they may repeat. */
    let held: EventEnvelope[] | undefined = after ? [] : undefined;
    let replayed: Set<string> | undefined;
    const limit = this.limits.queue;
    const enqueue = (event: EventEnvelope) => {
      if (ended) return;
      if (queue.length >= limit) {
        this.logger.info({ organizationId, queued: queue.length }, 'subscription client too slow; closing');
        ended = true;
        connection.close(CLOSE.SLOW_CONSUMER);
        wake?.();
        return;
      }
      queue.push(event);
      wake?.();
    };
    const registered: Registered = {
      field,
      args,
      push: (event) => (held ? held.push(event) : replayed?.has(event.id) ? undefined : enqueue(event)),
    };
    peers.add(registered);
    this.byOrganization.set(organizationId, peers);
    connection.open++;
    const release = () => {
      ended = true;
      if (peers.delete(registered)) connection.open--;
      if (peers.size === 0 && this.byOrganization.get(organizationId) === peers)
        this.byOrganization.delete(organizationId);
    };

    if (after) {
      let past: EventEnvelope[];
      try {
        past = (await this.source.since(after, [field.context])).filter(
          (e) => e.organizationId === organizationId && field.types.includes(e.type) && field.accepts(e, args),
        );
      } catch (error) {
        release();
        if (error instanceof GraphQLError) return error;
        throw error;
      }
      const seen = new Set(past.map((e) => e.id));
      replayed = seen;
      for (const event of past) enqueue(event);
      const live = held ?? [];
      held = undefined;
      for (const event of live) if (!seen.has(event.id)) enqueue(event);
    }

    async function* results(): AsyncGenerator<EventResult> {
      try {
        while (!ended) {
          const event = queue.shift();
          if (!event) {
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
            continue;
          }
          yield { id: event.id, result: await run(event) };
        }
      } finally {
        release();
      }
    }
    const generator = results();
    // return() on a generator waiting for an event would wait for that event (maybe forever, on a
    // quiet field): end it now, so the client's slots are free at once and the wait stops.
    const finish = generator.return.bind(generator);
    generator.return = (value) => {
      release();
      wake?.();
      return finish(value);
    };
    return generator;
  }
}
