// The integrations context as its webhook dispatcher (workers/webhook-dispatcher, and embedded
// mode) reaches it: `@mauntic/integrations/dispatcher`, their one way in.
export { WebhookDispatcher, type WebhookDispatcherOptions } from './app/dispatcher/webhook-dispatcher.ts';
export { recordWebhookEvent, WEBHOOK_CONSUMER, WEBHOOK_SOURCE_CONTEXTS } from './app/webhook-events.ts';
export { outbox, webhookAttempts, webhookDeliveries, webhookEndpoints } from './db/schema.ts';
export * from './domain/webhook.ts';
