// The events the integrations context consumes for webhooks: every catalogued event, matched to
// the enabled endpoints of its organization that subscribed to its type. Each match becomes one
// delivery row (once per endpoint and event however often the event arrives), which the
// dispatcher then sends.
import { catalogueEntries, contextOf, type EventEnvelope, newId } from '@mauntic/kernel';
import { and, eq, sql } from 'drizzle-orm';
import { webhookDeliveries, webhookEndpoints } from '../db/schema.ts';
import { RETRY_WINDOW_MS, wantsEvent, webhookBody } from '../domain/webhook.ts';
import type { IntegrationsDeps } from './deps.ts';

export const WEBHOOK_CONSUMER = 'webhook-dispatcher';
/** Every context that publishes catalogued events. */
export const WEBHOOK_SOURCE_CONTEXTS = [...new Set(catalogueEntries().map((d) => contextOf(d.type)))];

/** Records the event's deliveries; returns how many endpoints want it. */
export async function recordWebhookEvent(
  deps: Pick<IntegrationsDeps, 'handle'>,
  event: EventEnvelope,
  now = new Date(),
): Promise<number> {
  const endpoints = await deps.handle.db
    .select({
      id: webhookEndpoints.id,
      eventTypes: webhookEndpoints.eventTypes,
      segmentIds: webhookEndpoints.segmentIds,
      templateIds: webhookEndpoints.templateIds,
    })
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.organizationId, event.organizationId),
        eq(webhookEndpoints.enabled, true),
        sql`${event.type} = any(${webhookEndpoints.eventTypes})`,
      ),
    );
  const wanted = endpoints.filter((endpoint) => wantsEvent(endpoint, event));
  if (!wanted.length) return 0;
  const body = webhookBody(event);
  await deps.handle.db
    .insert(webhookDeliveries)
    .values(
      wanted.map((endpoint) => ({
        id: newId(),
        organizationId: event.organizationId,
        endpointId: endpoint.id,
        eventId: event.id,
        eventType: event.type,
        orderingKey: event.subject.id,
        occurredAt: new Date(event.occurredAt),
        body,
        nextAttemptAt: now,
        retryUntil: new Date(now.getTime() + RETRY_WINDOW_MS),
      })),
    )
    .onConflictDoNothing({ target: [webhookDeliveries.endpointId, webhookDeliveries.eventId] });
  return wanted.length;
}
