// EventBus for the embedded mode: delivery inside one process, with the same retry and
// dead-letter rules as Kafka.
//
// What it guarantees:
// - publish() resolves only once every subscribed group has handled (or dead-lettered) every
//   event. The outbox relay marks rows published after publish() resolves, so a crash mid-way
//   leaves the row unpublished and it is delivered again on restart: at-least-once, no dedup
//   (consumers are idempotent, as with Kafka).
// - Per-subject order: deliveries to one group for one subject id run one after another, in
//   publish order; different subjects, and different groups, run concurrently.
// - A group with a batch handler gets the events of one publish() call in batches of up to
//   maxEvents; a batch waits for the deliveries queued before it for any of its subjects.
// - A failing handler is retried in place (retryDelayMs backoff) up to maxAttempts, then the
//   event is dead-lettered and the subject's next event proceeds; while a service it needs is out
//   of reach, it is retried without counting. An event that fails catalogue
//   validation is dead-lettered at once with attempts 0, without reaching the handler.
// - Dead letters are logged at error level and the last `deadLetterLimit` (10,000) kept in
//   memory for deadLetters(); an embedded install has no broker to keep them in.
// What it does not do: events published before start(), or to a context no group reads, are
// dropped for that group (there is no log to replay from); publish() after stop() throws, so
// the relay leaves those rows for the next run. A handler must not await bus.publish() of an
// event that its own group receives for the same subject: that delivery queues behind the
// handler itself and never starts.
import { setTimeout as sleep } from 'node:timers/promises';
import { contextOf, type EventEnvelope, parseEvent, topicOf } from '@mauntic/kernel';
import { createLogger, type Logger, runWithLogScope } from '../logger.ts';
import { metrics } from '../metrics.ts';
import { type Context, contextFromTraceparent, inSpan, SpanKind, tracing } from '../telemetry/tracing.ts';
import {
  type BatchHandler,
  DEFAULT_MAX_ATTEMPTS,
  type DeadLetter,
  type EventBus,
  isTransientError,
  retryDelayMs,
  type Subscription,
} from './event-bus.ts';

export interface LocalEventBusOptions {
  logger?: Logger;
  /** How many dead letters deadLetters() keeps (the oldest go first). Default 10,000. */
  deadLetterLimit?: number;
}

export type HandleOutcome =
  | { outcome: 'ok' | 'retried' }
  | { outcome: 'dead_lettered'; error: string; attempts: number };

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export interface RetryOptions {
  /** Runs after each backoff (Kafka heartbeats there so a long retry does not cost the consumer its partitions). */
  beforeRetry?: () => Promise<void>;
  /** True once the bus is stopping: a handler waiting for an unreachable service then gives up. */
  stopping?: () => boolean;
  /** The trace context the event arrived with (Kafka's message headers); default: the envelope's. */
  traceParent?: () => Context;
}

/**
 * Runs a group's handler with in-place retries. Shared by both adapters so they retry alike:
 * `retried` means it succeeded after at least one failure; `dead_lettered` means maxAttempts tries
 * failed. A failure because the database, Redis or the broker is out of reach (isTransientError)
 * is not the event's fault and does not count: the handler is tried again, with the same backoff,
 * until the service answers — or, if the bus stops meanwhile, the error is thrown so the event is
 * neither acknowledged nor dead-lettered (Kafka redelivers it; the relay publishes it again).
 */
export function handleWithRetries(
  subscription: Subscription,
  event: EventEnvelope,
  topic: string,
  logger: Logger,
  options: RetryOptions = {},
): Promise<HandleOutcome> {
  if (!tracing.enabled) return retried(subscription, event, topic, logger, options);
  // A CONSUMER span, child of the producer's: the trace goes on from the work that caused the event.
  return inSpan(
    `process ${topic}`,
    {
      kind: SpanKind.CONSUMER,
      parent: options.traceParent?.() ?? contextFromTraceparent(event.traceparent),
      attributes: {
        'messaging.destination.name': topic,
        'messaging.consumer.group.name': subscription.group,
        'messaging.message.id': event.id,
        'mauntic.event.type': event.type,
      },
    },
    async (span) => {
      const result = await retried(subscription, event, topic, logger, options);
      span.setAttribute('mauntic.outcome', result.outcome);
      return result;
    },
  );
}

async function retried(
  subscription: Subscription,
  event: EventEnvelope,
  topic: string,
  logger: Logger,
  { beforeRetry, stopping }: RetryOptions,
): Promise<HandleOutcome> {
  const maxAttempts = subscription.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  const scope = { correlationId: event.correlationId, organizationId: event.organizationId };
  let failures = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await runWithLogScope(scope, () => subscription.handle(event, { attempt, topic }));
      return { outcome: attempt === 1 ? 'ok' : 'retried' };
    } catch (err) {
      const transient = isTransientError(err);
      if (transient && stopping?.()) throw err;
      if (!transient) failures++;
      if (failures >= maxAttempts) return { outcome: 'dead_lettered', error: errorText(err), attempts: attempt };
      logger.warn(
        { err, group: subscription.group, eventId: event.id, type: event.type, attempt, transient },
        transient ? 'event handler could not reach a service; retrying' : 'event handler failed; retrying',
      );
      await sleep(retryDelayMs(attempt));
      await beforeRetry?.();
    }
  }
}

/**
 * Runs a group's batch handler on `events` (all of its subscribed types, in order), waiting out an
 * unreachable service as handleWithRetries does (thrown if the bus stops meanwhile). False if the
 * handler failed otherwise: the caller then handles the events one by one with handleWithRetries,
 * so only an event at fault is dead-lettered and its batch-mates are applied.
 */
export async function handleBatch(
  subscription: Subscription,
  batch: BatchHandler,
  events: EventEnvelope[],
  topic: string,
  logger: Logger,
  { beforeRetry, stopping }: Pick<RetryOptions, 'beforeRetry' | 'stopping'> = {},
): Promise<boolean> {
  const { group } = subscription;
  const run = () => batch.handle(events, { topic });
  for (let attempt = 1; ; attempt++) {
    try {
      // One CONSUMER span per batch, in the trace of its events if they share one (a single
      // event, a campaign's launch); otherwise a trace of its own.
      if (!tracing.enabled) await run();
      else
        await inSpan(
          `process ${topic}`,
          {
            kind: SpanKind.CONSUMER,
            parent: contextFromTraceparent(
              events.every((event) => event.traceparent === events[0]?.traceparent) ? events[0]?.traceparent : null,
            ),
            attributes: {
              'messaging.destination.name': topic,
              'messaging.consumer.group.name': group,
              'messaging.batch.message_count': events.length,
            },
          },
          run,
        );
      return true;
    } catch (err) {
      if (!isTransientError(err)) {
        logger.warn({ err, group, events: events.length }, 'batch handler failed; handling its events one by one');
        return false;
      }
      if (stopping?.()) throw err;
      logger.warn({ err, group, events: events.length, attempt }, 'batch handler could not reach a service; retrying');
      await sleep(retryDelayMs(attempt));
      await beforeRetry?.();
    }
  }
}

type Parsed = { event: EventEnvelope } | { error: string };

export class LocalEventBus implements EventBus {
  readonly kind = 'local';
  private readonly logger: Logger;
  private readonly deadLetterLimit: number;
  private readonly subscriptions = new Map<string, Subscription>();
  /** Last queued delivery per group + subject: the next one for that key chains onto it. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly letters: DeadLetter[] = [];
  private state: 'idle' | 'started' | 'stopped' = 'idle';

  constructor(options: LocalEventBusOptions = {}) {
    this.logger = options.logger ?? createLogger('event-bus');
    this.deadLetterLimit = options.deadLetterLimit ?? 10_000;
  }

  subscribe(subscription: Subscription): void {
    if (this.state !== 'idle') throw new Error(`subscribe ${subscription.group} before start()`);
    if (this.subscriptions.has(subscription.group))
      throw new Error(`group ${subscription.group} is already subscribed`);
    this.subscriptions.set(subscription.group, subscription);
  }

  async start(): Promise<void> {
    if (this.state === 'stopped') throw new Error('LocalEventBus was stopped; create a new one');
    this.state = 'started';
  }

  async publish(events: EventEnvelope[]): Promise<void> {
    if (this.state === 'stopped') throw new Error('LocalEventBus is stopped');
    const deliveries: Promise<void>[] = [];
    /** A batch group's events per topic, handed over in batches once all are queued. */
    const batched = new Map<Subscription, Map<string, EventEnvelope[]>>();
    for (const event of events) {
      const context = contextOf(event.type);
      const topic = topicOf(context);
      metrics.eventsPublished.inc({ topic });
      if (this.state !== 'started') continue;
      for (const subscription of this.subscriptions.values()) {
        if (!subscription.contexts.includes(context)) continue;
        if (subscription.batch) {
          const byTopic = batched.get(subscription) ?? new Map<string, EventEnvelope[]>();
          const list = byTopic.get(topic) ?? [];
          list.push(event);
          byTopic.set(topic, list);
          batched.set(subscription, byTopic);
          continue;
        }
        const key = `${subscription.group}\u0000${subjectKey(event)}`;
        deliveries.push(this.enqueue([key], () => this.deliver(subscription, topic, event)));
      }
    }
    for (const [subscription, byTopic] of batched) {
      const { maxEvents } = subscription.batch!;
      for (const [topic, list] of byTopic) {
        for (let i = 0; i < list.length; i += maxEvents) {
          const chunk = list.slice(i, i + maxEvents);
          const keys = [...new Set(chunk.map((event) => `${subscription.group}\u0000${subjectKey(event)}`))];
          deliveries.push(this.enqueue(keys, () => this.deliverBatch(subscription, topic, chunk)));
        }
      }
    }
    await Promise.all(deliveries);
  }

  /** Waits for every queued delivery, including ones chained behind the running handlers. */
  async stop(): Promise<void> {
    this.state = 'stopped';
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  async ping(): Promise<void> {
    if (this.state === 'stopped') throw new Error('LocalEventBus is stopped');
  }

  /** The most recent dead letters, oldest first. */
  deadLetters(): DeadLetter[] {
    return [...this.letters];
  }

  /** Runs `run` after the deliveries queued for any of `keys` (a batch's subjects), and before later ones. */
  private enqueue(keys: string[], run: () => Promise<void>): Promise<void> {
    // Run after the previous deliveries settle either way: a failure is reported to its own
    // publisher and must not stop later events of the subject.
    const current = Promise.allSettled(keys.map((key) => this.tails.get(key))).then(run);
    for (const key of keys) this.tails.set(key, current);
    this.inFlight.add(current);
    const settle = () => {
      this.inFlight.delete(current);
      for (const key of keys) if (this.tails.get(key) === current) this.tails.delete(key);
    };
    current.then(settle, settle);
    return current;
  }

  private async deliver(subscription: Subscription, topic: string, raw: EventEnvelope) {
    const { group } = subscription;
    // Parsed per group, so each group gets its own copy, as it would from Kafka.
    const parsed = parse(raw);
    if ('error' in parsed) {
      this.deadLetter({ group, topic, value: JSON.stringify(raw), error: parsed.error, attempts: 0 });
      metrics.eventsConsumed.inc({ group, type: 'invalid', outcome: 'dead_lettered' });
      return;
    }
    const { event } = parsed;
    if (subscription.types && !subscription.types.includes(event.type)) return;
    const result = await handleWithRetries(subscription, event, topic, this.logger, {
      stopping: () => this.state === 'stopped',
    });
    if (result.outcome === 'dead_lettered') {
      this.deadLetter({ group, topic, value: JSON.stringify(raw), error: result.error, attempts: result.attempts });
    }
    metrics.eventsConsumed.inc({ group, type: event.type, outcome: result.outcome });
  }

  private async deliverBatch(subscription: Subscription, topic: string, raws: EventEnvelope[]) {
    const { group } = subscription;
    const events: EventEnvelope[] = [];
    for (const raw of raws) {
      const parsed = parse(raw);
      if ('error' in parsed) {
        this.deadLetter({ group, topic, value: JSON.stringify(raw), error: parsed.error, attempts: 0 });
        metrics.eventsConsumed.inc({ group, type: 'invalid', outcome: 'dead_lettered' });
      } else if (!subscription.types || subscription.types.includes(parsed.event.type)) events.push(parsed.event);
    }
    if (events.length === 0) return;
    const stopping = () => this.state === 'stopped';
    if (await handleBatch(subscription, subscription.batch!, events, topic, this.logger, { stopping })) {
      for (const event of events) metrics.eventsConsumed.inc({ group, type: event.type, outcome: 'ok' });
      return;
    }
    for (const event of events) await this.deliver(subscription, topic, event);
  }

  private deadLetter(letter: DeadLetter) {
    this.logger.error(
      { group: letter.group, topic: letter.topic, attempts: letter.attempts, error: letter.error, event: letter.value },
      'event dead-lettered',
    );
    this.letters.push(letter);
    if (this.letters.length > this.deadLetterLimit) this.letters.splice(0, this.letters.length - this.deadLetterLimit);
  }
}

function parse(event: EventEnvelope): Parsed {
  try {
    return { event: parseEvent(event) };
  } catch (err) {
    return { error: errorText(err) };
  }
}

/** The ordering key; an envelope that lost its subject still gets one, to reach the dead letters. */
function subjectKey(event: EventEnvelope): string {
  const subject: unknown = (event as { subject?: unknown }).subject;
  return typeof subject === 'object' && subject !== null ? String((subject as { id?: unknown }).id) : '';
}
