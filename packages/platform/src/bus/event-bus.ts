// The EventBus port. Adapters: Kafka (cluster) and local (embedded, in-process).
//
// Guarantees every adapter gives (proved by test/contract/event-bus.contract.ts):
// - at-least-once delivery to every consumer group subscribed to the event's context;
// - per-subject order: events with the same subject id reach a group in publish order;
// - a handler that keeps failing is retried `maxAttempts` times, then the event goes to the
//   group's dead-letter channel with its error, and the group moves on; failures that say the
//   database, Redis or the broker is out of reach (isTransientError) are not counted: the handler
//   is retried until they answer;
// - an event that does not validate against the catalogue goes straight to the dead letters;
// - a group with a batch handler gets its events in batches of up to `maxEvents`, in per-subject
//   order; a batch whose handler fails (other than for an unreachable service) is handled again
//   one event at a time by `handle`, with the retries and dead letters above, so a poisoned event
//   neither blocks nor loses its batch-mates.
// Consumers must still be idempotent (see outbox/processed-events.ts): redelivery happens.
import type { EventEnvelope } from '@mauntic/kernel';

export { isTransientError } from './transient-error.ts';

export interface DeliveryInfo {
  /** 1 on the first try. */
  attempt: number;
  topic: string;
}

export interface Subscription {
  /** Consumer group name: each group gets every event once; replicas of a group share them. */
  group: string;
  /** Contexts whose events this group reads, e.g. ['identity'] -> topic mauntic.identity.events. */
  contexts: string[];
  /** Only these event types reach the handler (others are acknowledged and skipped). */
  types?: string[];
  handle(event: EventEnvelope, info: DeliveryInfo): Promise<void>;
  /**
   * Optional: several events at once (those of the subscribed types, in their order), so a
   * consumer can apply them in one transaction. `handle` stays the fallback for a batch that fails.
   */
  batch?: BatchHandler;
  /** Tries before the event is dead-lettered (failures of unreachable services not counted). Default 5. */
  maxAttempts?: number;
}

export interface BatchHandler {
  /** The most events one call receives. */
  maxEvents: number;
  /** Must apply every event or none (one transaction), and be idempotent like `handle`. */
  handle(events: EventEnvelope[], info: { topic: string }): Promise<void>;
}

export interface DeadLetter {
  group: string;
  topic: string;
  /** The original message value (the envelope JSON, or whatever unparseable bytes arrived). */
  value: string;
  error: string;
  attempts: number;
}

export interface EventBus {
  readonly kind: 'kafka' | 'local';
  /** Resolves once the bus has durably accepted every event (Kafka: acks from all in-sync replicas). */
  publish(events: EventEnvelope[]): Promise<void>;
  /** Register before start(); a group may be registered once per bus. */
  subscribe(subscription: Subscription): void;
  start(): Promise<void>;
  /** Stops consuming after in-flight handlers finish, then disconnects. */
  stop(): Promise<void>;
  /** Throws when the bus cannot be reached (readiness). */
  ping(): Promise<void>;
}

export const DEFAULT_MAX_ATTEMPTS = 5;

/** Backoff between in-place retries of a failing handler: 50 ms, 100 ms, 200 ms ... capped at 2 s. */
export const retryDelayMs = (attempt: number) => Math.min(2000, 50 * 2 ** (attempt - 1));

export const deadLetterTopicOf = (group: string, prefix = 'mauntic') => `${prefix}.dlq.${group}`;
/** A subscription's Kafka consumer group: prefixed, so environments sharing a cluster keep their offsets apart. */
export const groupIdOf = (group: string, prefix = 'mauntic') => `${prefix}.${group}`;
