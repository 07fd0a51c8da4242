export * from './api-key-client.ts';
export * from './auth.ts';
export * from './cost-model.ts';
export * from './data-sources.ts';
export * from './environment.ts';
export * from './gateway.ts';
export * from './limits.ts';
export * from './public-routes.ts';
export * from './rate-limits.ts';
export { CLOSE, type SubscriptionLimits } from './subscriptions/hub.ts';
export { mergeSubscriptionSchema, type SubscriptionSettings } from './subscriptions/service.ts';
export * from './subscriptions/settings.ts';
export {
  type EventSource,
  KafkaEventSource,
  LocalEventSource,
  timeOfId,
} from './subscriptions/sources.ts';
export * from './supergraph.ts';
