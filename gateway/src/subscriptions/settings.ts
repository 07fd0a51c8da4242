// The subscriptions' event source and settings from the configuration, in both modes.
import type { busModel, EventBus, Logger } from '@mauntic/platform';
import type { z } from 'zod';
import { type GatewaySettings, subscriptionLimits } from '../environment.ts';
import type { SubscriptionSettings } from './service.ts';
import { KafkaEventSource, LocalEventSource } from './sources.ts';

/**
 * Kafka when brokers are configured (its own consumer group), else the process's local bus
 * (embedded mode); a cluster gateway without brokers serves no subscriptions.
 */
export function subscriptionSettings(
  settings: GatewaySettings,
  bus: z.infer<typeof busModel>,
  logger: Logger,
  localBus?: EventBus,
): SubscriptionSettings | undefined {
  const retentionMs = settings.GATEWAY_SUBSCRIPTION_RETENTION_HOURS * 3_600_000;
  const source = bus.KAFKA_BROKERS?.length
    ? new KafkaEventSource({
        brokers: bus.KAFKA_BROKERS,
        clientId: `${bus.KAFKA_CLIENT_ID}-gateway-subscriptions`,
        topicPrefix: bus.KAFKA_TOPIC_PREFIX,
        retentionMs,
        partitions: bus.KAFKA_TOPIC_PARTITIONS,
        logger,
      })
    : localBus
      ? new LocalEventSource(localBus, retentionMs, settings.GATEWAY_SUBSCRIPTION_RETAINED_EVENTS)
      : undefined;
  if (!source) return undefined;
  return {
    source,
    limits: subscriptionLimits(settings),
    recheckMs: settings.GATEWAY_SUBSCRIPTION_RECHECK_SECONDS * 1000,
  };
}
