// Where the gateway's subscriptions get their events, and how far back a resuming client can go.
// - Embedded: a consumer group on the local bus, and the recent events kept in memory (the local
//   bus keeps no log; a restart forgets them, and a client resuming from before it is told so).
// - Cluster: a Kafka consumer of its own per gateway instance (a unique group id, reading from the
//   latest offsets: each instance sees every event, nothing goes through a subgraph), and replay
//   from Kafka itself, whose topics keep far more than the retention window, by event time.
import { randomBytes } from 'node:crypto';
import { type EventEnvelope, parseEvent, topicOf } from '@mauntic/kernel';
import { createMissingTopics, type EventBus, type Logger } from '@mauntic/platform';
import { GraphQLError } from 'graphql';
import { Kafka, logLevel } from 'kafkajs';
import { STREAMED_CONTEXTS, STREAMED_TYPES } from './fields.ts';

export interface EventSource {
  /** Each streamed event as it arrives; one listener. */
  listen(listener: (event: EventEnvelope) => void): void;
  /**
   * The streamed events of `contexts` after the event `afterId` and up to now, oldest first.
   * Throws a RESUME_EXPIRED error when that event is older than the retention window.
   */
  since(afterId: string, contexts: readonly string[]): Promise<EventEnvelope[]>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** When a UUID v7 was made (its first 48 bits are Unix milliseconds), or NaN for another id. */
export function timeOfId(id: string): number {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return Number.NaN;
  return Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
}

export const resumeExpired = (retentionMs: number) =>
  new GraphQLError(
    `Cannot resume: the event is older than the ${Math.round(retentionMs / 3_600_000)} h retention window (or unknown); subscribe without \`after\``,
    { extensions: { code: 'RESUME_EXPIRED' } },
  );

const badAfter = () => new GraphQLError('`after` must be an event id', { extensions: { code: 'BAD_USER_INPUT' } });

/** UUID v7 ids sort by creation time as strings (lower-case hex). */
const byId = (a: EventEnvelope, b: EventEnvelope) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export class LocalEventSource implements EventSource {
  private listener: (event: EventEnvelope) => void = () => {};
  /** Arrival order; the oldest are dropped past the window or the count. */
  private readonly recent: EventEnvelope[] = [];
  private head = 0;
  /** The newest event no longer kept. */
  private evicted?: string;

  constructor(
    bus: EventBus,
    private readonly retentionMs: number,
    private readonly maxRetained: number,
  ) {
    bus.subscribe({
      group: 'gateway-subscriptions',
      contexts: STREAMED_CONTEXTS,
      types: [...STREAMED_TYPES],
      // Fan-out only queues the event for each subscriber: publish() is not held up by clients.
      handle: async (event) => {
        this.keep(event);
        this.listener(event);
      },
    });
  }

  listen(listener: (event: EventEnvelope) => void) {
    this.listener = listener;
  }

  private keep(event: EventEnvelope) {
    this.recent.push(event);
    const horizon = Date.now() - this.retentionMs;
    while (
      this.head < this.recent.length &&
      (this.recent.length - this.head > this.maxRetained || Date.parse(this.recent[this.head]!.occurredAt) < horizon)
    )
      this.evicted = this.recent[this.head++]!.id;
    // Compact now and then rather than shift() on every event.
    if (this.head > 1024 && this.head * 2 > this.recent.length) {
      this.recent.splice(0, this.head);
      this.head = 0;
    }
  }

  async since(afterId: string, contexts: readonly string[]): Promise<EventEnvelope[]> {
    const at = timeOfId(afterId);
    if (Number.isNaN(at)) throw badAfter();
    // Made before this process started, or older than what is still kept: what followed is gone.
    if (at < this.startedAt || at < Date.now() - this.retentionMs || (this.evicted && afterId <= this.evicted))
      throw resumeExpired(this.retentionMs);
    const kept = this.recent.slice(this.head);
    const inContexts = (e: EventEnvelope) => contexts.includes(e.type.slice(0, e.type.indexOf('.')));
    const index = kept.findIndex((e) => e.id === afterId);
    // The event itself kept: what arrived after it, in arrival order; else what was made after it.
    return index >= 0 ? kept.slice(index + 1).filter(inContexts) : kept.filter((e) => e.id > afterId && inContexts(e));
  }

  private startedAt = Date.now();

  async start() {
    this.startedAt = Date.now();
  }

  async stop() {}
}

export interface KafkaSourceOptions {
  brokers: string[];
  clientId: string;
  topicPrefix: string;
  retentionMs: number;
  /** Partitions of the topics it creates, as the bus would create them. */
  partitions: number;
  logger: Logger;
}

/** A client's clock and the producers' differ: replay starts this much before the event's time. */
const REPLAY_SKEW_MS = 5_000;

export class KafkaEventSource implements EventSource {
  private readonly kafka: Kafka;
  private readonly groupId: string;
  private listener: (event: EventEnvelope) => void = () => {};
  private readonly consumer;
  private readonly admin;

  constructor(private readonly options: KafkaSourceOptions) {
    this.kafka = new Kafka({ clientId: options.clientId, brokers: options.brokers, logLevel: logLevel.NOTHING });
    // One group per instance: every gateway sees every event; a restart starts at the latest offsets.
    this.groupId = `${options.topicPrefix}.gateway-subscriptions.${randomBytes(6).toString('hex')}`;
    this.consumer = this.kafka.consumer({ groupId: this.groupId, maxWaitTimeInMs: 100 });
    this.admin = this.kafka.admin();
  }

  private topics(contexts: readonly string[]) {
    return contexts.map((c) => topicOf(c, this.options.topicPrefix));
  }

  listen(listener: (event: EventEnvelope) => void) {
    this.listener = listener;
  }

  async start() {
    await Promise.all([this.consumer.connect(), this.admin.connect()]);
    const topics = this.topics(STREAMED_CONTEXTS);
    await this.ensureTopics(topics);
    await this.consumer.subscribe({ topics, fromBeginning: false });
    const joined = new Promise<void>((resolve) => this.consumer.on(this.consumer.events.GROUP_JOIN, () => resolve()));
    await this.consumer.run({
      partitionsConsumedConcurrently: 8,
      eachMessage: async ({ message }) => {
        const event = this.parse(message.value);
        if (event) this.listener(event);
      },
    });
    await joined;
  }

  /** The topics exist before the group asks for them (a subgraph that has not published yet has none). */
  private ensureTopics(topics: string[]) {
    return createMissingTopics(this.admin, topics, this.options.partitions);
  }

  private parse(value: Buffer | null): EventEnvelope | undefined {
    if (!value) return undefined;
    try {
      const raw = JSON.parse(value.toString('utf8')) as { type?: unknown };
      if (typeof raw.type !== 'string' || !STREAMED_TYPES.has(raw.type)) return undefined;
      return parseEvent(raw);
    } catch (err) {
      // The consumers of the owning context dead-letter it; here it is only not streamed.
      this.options.logger.warn({ err }, 'subscriptions: an event on the bus does not parse; not streamed');
      return undefined;
    }
  }

  /**
   * Reads each topic from the offsets of (the event's time - skew) up to the end offsets taken
   * now, with a consumer group made for this replay alone, then orders what came by id.
   */
  async since(afterId: string, contexts: readonly string[]): Promise<EventEnvelope[]> {
    const at = timeOfId(afterId);
    if (Number.isNaN(at)) throw badAfter();
    if (at < Date.now() - this.options.retentionMs) throw resumeExpired(this.options.retentionMs);
    const topics = this.topics(contexts);
    const ranges = new Map<string, { from: string; to: bigint }>();
    for (const topic of topics) {
      const [from, ends] = await Promise.all([
        this.admin.fetchTopicOffsetsByTimestamp(topic, at - REPLAY_SKEW_MS),
        this.admin.fetchTopicOffsets(topic),
      ]);
      for (const { partition, high } of ends) {
        const start = from.find((f) => f.partition === partition)?.offset ?? high;
        // -1: no message at or after the time: nothing to read in that partition.
        const begin = start === '-1' ? high : start;
        if (BigInt(begin) < BigInt(high)) ranges.set(`${topic}:${partition}`, { from: begin, to: BigInt(high) });
      }
    }
    if (ranges.size === 0) return [];
    const events: EventEnvelope[] = [];
    const replayGroup = `${this.groupId}.replay.${randomBytes(4).toString('hex')}`;
    const consumer = this.kafka.consumer({ groupId: replayGroup, maxWaitTimeInMs: 100 });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics, fromBeginning: true });
      const remaining = new Set(ranges.keys());
      const done = new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ topic, partition, message }) => {
              const key = `${topic}:${partition}`;
              const range = ranges.get(key);
              if (!range || !remaining.has(key)) return;
              const event = this.parse(message.value);
              if (event && event.id > afterId) events.push(event);
              if (BigInt(message.offset) + 1n >= range.to) {
                remaining.delete(key);
                if (remaining.size === 0) resolve();
              }
            },
          })
          .then(() => {
            for (const [key, range] of ranges) {
              const cut = key.lastIndexOf(':');
              consumer.seek({ topic: key.slice(0, cut), partition: Number(key.slice(cut + 1)), offset: range.from });
            }
          }, reject);
      });
      await done;
    } finally {
      await consumer.disconnect();
      await this.admin.deleteGroups([replayGroup]).catch(() => {});
    }
    return events.sort(byId);
  }

  async stop() {
    await this.consumer.disconnect();
    // The group held no offsets anyone needs: leave no trace of it in the cluster.
    await this.admin.deleteGroups([this.groupId]).catch(() => {});
    await this.admin.disconnect();
  }
}
