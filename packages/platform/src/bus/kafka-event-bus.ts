// EventBus over Kafka (cluster mode), with kafkajs.
//
// What it guarantees:
// - publish() resolves once the broker has written every event to all in-sync replicas
//   (acks -1), and rejects after kafkajs's retries (seconds) when it cannot; the outbox relay
//   then tries again later. One request in flight per broker keeps retries from reordering a
//   partition. A retried send may write an event twice: no dedup, consumers are idempotent.
//   (kafkajs's idempotent producer works with this broker but retries forever, so publish()
//   would hang while Kafka is down; bounding its retries lets a later send reuse sequence
//   numbers, which the broker may take for a duplicate and silently drop. Not worth it here.)
// - Topics: one per context, `mauntic.<context>.events`, keyed by subject id, so one subject's
//   events share a partition. Each group has one consumer that handles its partitions
//   concurrently but each partition in order: per-subject order holds.
// - At-least-once: an offset is committed only after its message was handled or dead-lettered,
//   so a crash or rebalance redelivers (no dedup here; consumers are idempotent).
// - A failing handler is retried in place (retryDelayMs backoff) up to maxAttempts (failures of an
//   unreachable database, Redis or broker not counted: those wait for it to answer), then the
//   message is written to `<prefix>.dlq.<group>` with its original key and value and x-error,
//   x-original-topic, x-original-partition, x-original-offset, x-attempts and x-group headers,
//   and the partition moves on. A message that is not JSON or fails catalogue validation goes
//   there at once with x-attempts 0, without reaching the handler (retrying cannot fix it).
//   If the dead-letter write itself fails, eachMessage throws, the offset is not committed and
//   kafkajs delivers the message again: nothing disappears silently.
// - A group with a batch handler reads with eachBatch: each fetched partition batch goes to the
//   handler in chunks of up to maxEvents; a chunk's offsets are resolved only once it was handled
//   (or its events one by one, handled or dead-lettered, after the chunk failed), and kafkajs
//   commits resolved offsets after each fetched batch, or when eachBatch throws. A rebalance or
//   stop mid-batch leaves the rest unresolved, to be delivered again.
// - A brand-new group starts from the beginning of its topics, so it misses nothing published
//   before its first start; afterwards it resumes from its committed offsets.
import { contextOf, type EventEnvelope, newId, parseEvent, topicOf } from '@mauntic/kernel';
import {
  type Admin,
  type Consumer,
  type EachBatchPayload,
  type EachMessagePayload,
  type IHeaders,
  Kafka,
  type KafkaMessage,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
} from 'kafkajs';
import { createLogger, type Logger } from '../logger.ts';
import { metrics } from '../metrics.ts';
import {
  contextFromHeaders,
  contextFromTraceparent,
  contextOfSpan,
  failSpan,
  injectTraceHeaders,
  type Span,
  SpanKind,
  startSpan,
  tracing,
} from '../telemetry/tracing.ts';
import {
  type BatchHandler,
  type DeadLetter,
  deadLetterTopicOf,
  type EventBus,
  groupIdOf,
  type Subscription,
} from './event-bus.ts';
import { createMissingTopics } from './kafka-topics.ts';
import { errorText, handleBatch, handleWithRetries } from './local-event-bus.ts';

/** The most event bytes one produce request carries: half the broker's default message.max.bytes. */
export const PUBLISH_REQUEST_BYTES = 512 * 1024;

export interface KafkaEventBusOptions {
  brokers: string[];
  clientId: string;
  logger?: Logger;
  /** Partitions of the topics this bus creates, and how many partitions a group handles at once. Default 3. */
  partitions?: number;
  /** How long a silent consumer keeps its partitions before the group rebalances. Default 30 s. */
  consumerSessionTimeoutMs?: number;
  /** Topics are `<prefix>.<context>.events` and `<prefix>.dlq.<group>`, consumer groups `<prefix>.<group>`. Default 'mauntic'. */
  topicPrefix?: string;
}

interface Group {
  subscription: Subscription;
  consumer?: Consumer;
  joined: boolean;
  whenJoined?: Promise<void>;
}

const PING_TIMEOUT_MS = 3000;
const LAG_INTERVAL_MS = 15_000;
// An idle fetch waits this long for data; disconnect() waits for the fetch in progress, so a
// short wait keeps shutdown quick at the cost of one small request per second when idle.
const FETCH_MAX_WAIT_MS = 1000;
// How long stop() waits for a consumer to leave its group once no handler runs.
const DISCONNECT_GRACE_MS = 3000;
// Cap on the x-error header: a handler's error message may be huge (a whole SQL statement).
const MAX_ERROR_HEADER_CHARS = 4000;

export class KafkaEventBus implements EventBus {
  readonly kind = 'kafka';
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private readonly admin: Admin;
  private readonly logger: Logger;
  private readonly partitions: number;
  private readonly sessionTimeout: number;
  private readonly groups = new Map<string, Group>();
  /** Topics known to exist (or being created): created once per bus, not per publish. */
  private readonly ensured = new Map<string, Promise<void>>();
  private producerConnecting?: Promise<void>;
  private adminConnecting?: Promise<void>;
  private stopping?: Promise<void>;
  private state: 'idle' | 'started' | 'stopped' = 'idle';
  private lagTimer?: NodeJS.Timeout;
  /** eachMessage and eachBatch calls in progress. */
  private inFlight = 0;
  private readonly prefix: string;

  constructor(options: KafkaEventBusOptions) {
    this.logger = options.logger ?? createLogger('event-bus');
    this.partitions = options.partitions ?? 3;
    this.prefix = options.topicPrefix ?? 'mauntic';
    this.sessionTimeout = options.consumerSessionTimeoutMs ?? 30_000;
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator(this.logger),
    });
    this.producer = this.kafka.producer({
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.admin = this.kafka.admin();
  }

  subscribe(subscription: Subscription): void {
    if (this.state !== 'idle') throw new Error(`subscribe ${subscription.group} before start()`);
    if (this.groups.has(subscription.group)) throw new Error(`group ${subscription.group} is already subscribed`);
    this.groups.set(subscription.group, { subscription, joined: false });
  }

  /**
   * Publishes, coalescing: the producer has one request in flight per broker (so a retry cannot
   * reorder a subject's events), so while one send is on its way, the events of every publish
   * that comes meanwhile wait and go together in the next, each caller's in its order, callers in
   * the order they came. Many small concurrent publishes (an ingestion endpoint's requests) cost
   * one round trip per send rather than one each. A send that fails fails every publish in it.
   */
  async publish(events: EventEnvelope[]): Promise<void> {
    this.assertOpen();
    if (events.length === 0) return;
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ events, resolve, reject });
      if (!this.sending) void this.sendWaiting();
    });
  }

  private readonly waiting: { events: EventEnvelope[]; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private sending = false;

  private async sendWaiting(): Promise<void> {
    this.sending = true;
    while (this.waiting.length > 0) {
      const publishes = this.waiting.splice(0, this.waiting.length);
      try {
        await this.send(publishes.flatMap((p) => p.events));
        for (const p of publishes) p.resolve();
      } catch (error) {
        for (const p of publishes) p.reject(error);
      }
    }
    this.sending = false;
  }

  private async send(events: EventEnvelope[]): Promise<void> {
    // In requests of at most PUBLISH_REQUEST_BYTES, one after the other (so each subject's events
    // keep their order): the broker refuses a partition's batch above its message.max.bytes (1 MB
    // by default), and an outbox relay catching up after an outage publishes thousands at once.
    const chunks: Map<string, Message[]>[] = [];
    const spans: Span[] = [];
    let bytes = Number.POSITIVE_INFINITY;
    for (const event of events) {
      const topic = topicOf(contextOf(event.type), this.prefix);
      const value = JSON.stringify(event);
      if (bytes + value.length > PUBLISH_REQUEST_BYTES) {
        chunks.push(new Map());
        bytes = 0;
      }
      bytes += value.length;
      const byTopic = chunks.at(-1)!;
      const messages = byTopic.get(topic) ?? [];
      const headers: Record<string, string> = { 'event-type': event.type };
      if (tracing.enabled && event.traceparent) spans.push(this.publishSpan(event, topic, headers));
      messages.push({ key: event.subject.id, value, headers });
      byTopic.set(topic, messages);
    }
    try {
      await Promise.all([this.connectProducer(), this.connectAdmin()]);
      await this.ensureTopics([...new Set(chunks.flatMap((byTopic) => [...byTopic.keys()]))]);
      for (const byTopic of chunks) {
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
        for (const [topic, messages] of byTopic) metrics.eventsPublished.inc({ topic }, messages.length);
      }
    } catch (error) {
      for (const span of spans) failSpan(span, error);
      throw error;
    } finally {
      for (const span of spans) span.end();
    }
  }

  /**
   * A PRODUCER span per traced event, child of the work that wrote it to the outbox; its context
   * goes in the message's W3C headers, where consumers (ours or anyone's) pick it up.
   */
  private publishSpan(event: EventEnvelope, topic: string, headers: Record<string, string>): Span {
    const span = startSpan(`publish ${topic}`, {
      kind: SpanKind.PRODUCER,
      parent: contextFromTraceparent(event.traceparent),
      attributes: {
        'messaging.system': 'kafka',
        'messaging.destination.name': topic,
        'messaging.message.id': event.id,
        'mauntic.event.type': event.type,
      },
    })!;
    injectTraceHeaders((name, value) => {
      headers[name] = value;
    }, contextOfSpan(span));
    return span;
  }

  async start(): Promise<void> {
    this.assertOpen();
    if (this.state === 'started') throw new Error('KafkaEventBus is already started');
    this.state = 'started';
    await Promise.all([this.connectProducer(), this.connectAdmin()]);
    const groups = [...this.groups.values()];
    const topics = groups.flatMap(({ subscription }) => [
      ...subscription.contexts.map((c) => topicOf(c, this.prefix)),
      deadLetterTopicOf(subscription.group, this.prefix),
    ]);
    await this.ensureTopics([...new Set(topics)]);
    await Promise.all(groups.map((group) => this.startGroup(group)));
    if (groups.length > 0) {
      this.lagTimer = setInterval(() => {
        this.measureLag().catch((err: unknown) => this.logger.warn({ err }, 'could not measure consumer lag'));
      }, LAG_INTERVAL_MS);
      this.lagTimer.unref();
    }
  }

  /**
   * Resolves once every group's consumer has joined its group and been given partitions (a
   * join takes from a fraction of a second to a rebalance timeout). start() does not wait for
   * it, so a service can serve meanwhile; tests wait for it before they publish.
   */
  async ready(timeoutMs = 30_000): Promise<void> {
    if (this.state !== 'started') throw new Error('KafkaEventBus is not started');
    const groups = [...this.groups.values()];
    await withTimeout(Promise.all(groups.map((g) => g.whenJoined)), timeoutMs, () => {
      const waiting = groups.filter((g) => !g.joined).map((g) => g.subscription.group);
      return `consumer groups not joined after ${timeoutMs} ms: ${waiting.join(', ')}`;
    });
  }

  /**
   * Idempotent. kafkajs's disconnect waits for the eachMessage calls in progress; once none is,
   * it gets DISCONNECT_GRACE_MS more. A consumer rejoining its group after a broker restart waits
   * for its former member's session to expire (up to the session timeout), and disconnect waits
   * with it; nothing is lost by not waiting: offsets not committed are delivered again.
   */
  stop(): Promise<void> {
    this.state = 'stopped';
    this.stopping ??= (async () => {
      clearInterval(this.lagTimer);
      const disconnected = Promise.all([...this.groups.values()].map((g) => g.consumer?.disconnect()));
      const idle = this.handlersDone().then(() => new Promise((resolve) => setTimeout(resolve, DISCONNECT_GRACE_MS)));
      if ((await Promise.race([disconnected.then(() => true), idle.then(() => false)])) === false)
        this.logger.warn(
          { graceMs: DISCONNECT_GRACE_MS },
          'Kafka consumers still rejoining at stop; not waiting for them',
        );
      await Promise.all([this.producer.disconnect(), this.admin.disconnect()]);
    })();
    return this.stopping;
  }

  /** Resolves once no eachMessage call is in progress. */
  private async handlersDone(): Promise<void> {
    while (this.inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
  }

  /**
   * Messages each group has not yet committed, per topic (sum over partitions), also set on the
   * mauntic_consumer_lag gauge. Runs every LAG_INTERVAL_MS while started.
   */
  async measureLag(): Promise<Record<string, Record<string, number>>> {
    await this.connectAdmin();
    const lag: Record<string, Record<string, number>> = {};
    for (const { subscription } of this.groups.values()) {
      const topics = subscription.contexts.map((c) => topicOf(c, this.prefix));
      const committed = await this.admin.fetchOffsets({ groupId: groupIdOf(subscription.group, this.prefix), topics });
      lag[subscription.group] = {};
      for (const { topic, partitions } of committed) {
        const ends = await this.admin.fetchTopicOffsets(topic);
        let total = 0;
        for (const end of ends) {
          const done = partitions.find((p) => p.partition === end.partition)?.offset ?? '-1';
          // -1: nothing committed yet, so everything from the start of the log is pending.
          const from = Number(done) >= 0 ? Number(done) : Number(end.low);
          total += Math.max(0, Number(end.high) - from);
        }
        lag[subscription.group]![topic] = total;
        metrics.consumerLag.set({ group: subscription.group, topic }, total);
      }
    }
    return lag;
  }

  async ping(): Promise<void> {
    this.assertOpen();
    const answer = this.connectAdmin().then(() => this.admin.describeCluster());
    await withTimeout(answer, PING_TIMEOUT_MS, () => `Kafka did not answer within ${PING_TIMEOUT_MS} ms`);
  }

  private assertOpen() {
    if (this.state === 'stopped') throw new Error('KafkaEventBus is stopped');
  }

  // Connected on first use, once; a failed attempt is forgotten so the next call tries again.
  private connectProducer(): Promise<void> {
    this.producerConnecting ??= this.producer.connect().catch((err: unknown) => {
      this.producerConnecting = undefined;
      throw err;
    });
    return this.producerConnecting;
  }

  private connectAdmin(): Promise<void> {
    this.adminConnecting ??= this.admin.connect().catch((err: unknown) => {
      this.adminConnecting = undefined;
      throw err;
    });
    return this.adminConnecting;
  }

  private async ensureTopics(topics: string[]): Promise<void> {
    const missing = topics.filter((topic) => !this.ensured.has(topic));
    if (missing.length > 0) {
      const created = this.createTopics(missing);
      for (const topic of missing) this.ensured.set(topic, created);
      created.catch(() => {
        for (const topic of missing) if (this.ensured.get(topic) === created) this.ensured.delete(topic);
      });
    }
    await Promise.all(topics.map((topic) => this.ensured.get(topic)));
  }

  private createTopics(topics: string[]): Promise<void> {
    return createMissingTopics(this.admin, topics, this.partitions);
  }

  private async startGroup(group: Group): Promise<void> {
    const { subscription } = group;
    const consumer = this.kafka.consumer({
      groupId: groupIdOf(subscription.group, this.prefix),
      sessionTimeout: this.sessionTimeout,
      heartbeatInterval: Math.min(3000, Math.floor(this.sessionTimeout / 10)),
      maxWaitTimeInMs: FETCH_MAX_WAIT_MS,
    });
    group.consumer = consumer;
    group.whenJoined = new Promise((resolve) => {
      const off = consumer.on(consumer.events.GROUP_JOIN, () => {
        group.joined = true;
        off();
        resolve();
      });
    });
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.logger.error(
        { group: subscription.group, err: payload.error, restart: payload.restart },
        'Kafka consumer crashed',
      );
    });
    await consumer.connect();
    await consumer.subscribe({
      topics: subscription.contexts.map((c) => topicOf(c, this.prefix)),
      fromBeginning: true,
    });
    const { batch } = subscription;
    await consumer.run({
      partitionsConsumedConcurrently: this.partitions,
      ...(batch
        ? {
            // Offsets are resolved by consumeBatch, chunk by chunk, once handled.
            eachBatchAutoResolve: false,
            eachBatch: (payload: EachBatchPayload) =>
              this.tracked(() => this.consumeBatch(subscription, batch, payload)),
          }
        : { eachMessage: (payload: EachMessagePayload) => this.tracked(() => this.consumeOne(subscription, payload)) }),
    });
  }

  private async tracked(run: () => Promise<void>): Promise<void> {
    this.inFlight++;
    try {
      await run();
    } finally {
      this.inFlight--;
    }
  }

  private async consumeOne(subscription: Subscription, payload: Delivered): Promise<void> {
    const event = await this.parsed(subscription, payload);
    if (event && (!subscription.types || subscription.types.includes(event.type)))
      await this.handleOne(subscription, payload, event);
  }

  private async consumeBatch(
    subscription: Subscription,
    batch: BatchHandler,
    { batch: { topic, partition, messages }, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload,
  ): Promise<void> {
    const { group } = subscription;
    let pending: { message: KafkaMessage; event: EventEnvelope }[] = [];
    const flush = async () => {
      const chunk = pending;
      pending = [];
      const events = chunk.map((p) => p.event);
      const stopping = () => this.state === 'stopped';
      if (await handleBatch(subscription, batch, events, topic, this.logger, { beforeRetry: heartbeat, stopping }))
        for (const event of events) metrics.eventsConsumed.inc({ group, type: event.type, outcome: 'ok' });
      else
        for (const { message, event } of chunk)
          await this.handleOne(subscription, { topic, partition, message, heartbeat }, event);
      await heartbeat();
    };
    for (const message of messages) {
      // Rebalanced away or stopping: what is not resolved is delivered again.
      if (!isRunning() || isStale()) return;
      const event = await this.parsed(subscription, { topic, partition, message, heartbeat });
      if (event && (!subscription.types || subscription.types.includes(event.type))) pending.push({ message, event });
      if (pending.length >= batch.maxEvents) await flush();
      // Dead-lettered, skipped or handled, and nothing before it waits: settled.
      if (pending.length === 0) resolveOffset(message.offset);
    }
    if (pending.length === 0 || !isRunning() || isStale()) return;
    await flush();
    resolveOffset(messages.at(-1)!.offset);
  }

  /** The message's event; undefined if it is not one (then dead-lettered: retrying cannot fix it). */
  private async parsed(subscription: Subscription, delivered: Delivered): Promise<EventEnvelope | undefined> {
    try {
      return parseEvent(parseJson(delivered.message.value?.toString('utf8') ?? ''));
    } catch (err) {
      await this.deadLetter(subscription, delivered, errorText(err), 0);
      metrics.eventsConsumed.inc({ group: subscription.group, type: 'invalid', outcome: 'dead_lettered' });
      return undefined;
    }
  }

  private async handleOne(subscription: Subscription, payload: Delivered, event: EventEnvelope): Promise<void> {
    const { group } = subscription;
    const { topic, message, heartbeat } = payload;
    const result = await handleWithRetries(subscription, event, topic, this.logger, {
      beforeRetry: heartbeat,
      stopping: () => this.state === 'stopped',
      // The producer span's context, from the message's headers (the envelope's if they have none).
      traceParent: () =>
        message.headers?.traceparent ? contextFromHeaders(message.headers) : contextFromTraceparent(event.traceparent),
    });
    if (result.outcome === 'dead_lettered') await this.deadLetter(subscription, payload, result.error, result.attempts);
    metrics.eventsConsumed.inc({ group, type: event.type, outcome: result.outcome });
  }

  private async deadLetter(
    subscription: Subscription,
    { topic, partition, message }: Delivered,
    error: string,
    attempts: number,
  ): Promise<void> {
    this.logger.error(
      { group: subscription.group, topic, partition, offset: message.offset, attempts, error },
      'event dead-lettered',
    );
    // Not caught: if this write fails the offset stays uncommitted and the message comes back.
    await this.producer.send({
      topic: deadLetterTopicOf(subscription.group, this.prefix),
      acks: -1,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...message.headers,
            'x-error': error.slice(0, MAX_ERROR_HEADER_CHARS),
            'x-original-topic': topic,
            'x-original-partition': String(partition),
            'x-original-offset': message.offset,
            'x-attempts': String(attempts),
            'x-group': subscription.group,
          },
        },
      ],
    });
  }
}

/** One message as both eachMessage and eachBatch see it. */
type Delivered = Pick<EachMessagePayload, 'topic' | 'partition' | 'message' | 'heartbeat'>;

async function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Kafka answer that says "not yet" (kafkajs marks those retriable), not "never". */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`not JSON: ${errorText(err)}`);
  }
}

/** Routes kafkajs's own warnings and errors into our logger; it is too chatty below warn. */
function kafkaLogCreator(logger: Logger) {
  return () =>
    ({ namespace, level, log }: LogEntry) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = log;
      if (level === logLevel.ERROR) logger.error({ kafkajs: namespace, ...fields }, message);
      else logger.warn({ kafkajs: namespace, ...fields }, message);
    };
}

/** A dead letter as read back from Kafka, with where the message originally sat. */
export interface KafkaDeadLetter extends DeadLetter {
  key: string | null;
  originalPartition: number;
  originalOffset: string;
}

export interface ReadDeadLettersOptions {
  clientId?: string;
  timeoutMs?: number;
  topicPrefix?: string;
}

/**
 * Reads a group's whole dead-letter topic, up to its end at the time of the call, with a
 * throwaway consumer that commits nothing (for operators and tests; kafkajs cannot read
 * partitions without joining a group).
 */
export async function readDeadLetters(
  brokers: string[],
  group: string,
  { clientId = 'mauntic-dead-letters', timeoutMs = 20_000, topicPrefix = 'mauntic' }: ReadDeadLettersOptions = {},
): Promise<KafkaDeadLetter[]> {
  const topic = deadLetterTopicOf(group, topicPrefix);
  const kafka = new Kafka({ clientId, brokers, logLevel: logLevel.ERROR });
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, number>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]));
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return [];

  const letters: KafkaDeadLetter[] = [];
  const consumer = kafka.consumer({ groupId: `mauntic.dlq-reader.${newId()}`, maxWaitTimeInMs: FETCH_MAX_WAIT_MS });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${topic} not read to its end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const end = ends.get(partition);
            if (end === undefined) return;
            letters.push(toDeadLetter(message));
            if (Number(message.offset) + 1 >= end) ends.delete(partition);
            if (ends.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return letters;
}

function toDeadLetter(message: KafkaMessage): KafkaDeadLetter {
  const header = (name: string) => headerText(message.headers, name);
  return {
    group: header('x-group'),
    topic: header('x-original-topic'),
    value: message.value?.toString('utf8') ?? '',
    error: header('x-error'),
    attempts: Number(header('x-attempts')),
    key: message.key?.toString('utf8') ?? null,
    originalPartition: Number(header('x-original-partition')),
    originalOffset: header('x-original-offset'),
  };
}

function headerText(headers: IHeaders | undefined, name: string): string {
  const value = headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? '' : first.toString();
}
