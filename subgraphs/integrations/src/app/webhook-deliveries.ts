// The webhook delivery log: what was sent to an endpoint, each attempt with its answer, and
// replays (one delivery, or every delivery of a time range) that send an event again, with a
// fresh retry window. Receivers deduplicate by the event id, which a replay keeps.
import { authorize, fail, NotFoundError, ok, type RequestContext, type Result } from '@mauntic/kernel';
import { type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, asc, eq, gte, isNull, lt, lte, or, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from '../db/schema.ts';
import { WebhookEndpointDisabledError } from '../domain/errors.ts';
import { RETRY_WINDOW_MS } from '../domain/webhook.ts';
import type { IntegrationsDeps } from './deps.ts';

export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type WebhookAttemptRow = typeof webhookAttempts.$inferSelect;

export const DELIVERY_STATUSES = ['pending', 'succeeded', 'failed'] as const;

const listInput = z.object({
  endpointId: z.uuid(),
  status: z.enum(DELIVERY_STATUSES).optional(),
  eventType: z.string().max(200).optional(),
});
const idInput = z.object({ id: z.uuid() });
const rangeInput = z
  .object({ endpointId: z.uuid(), from: z.date(), to: z.date() })
  .refine((r) => r.from <= r.to, { message: 'from must not be after to', path: ['to'] });

export async function listWebhookDeliveries(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof listInput>,
  window: PageWindow,
) {
  const access = authorize(ctx, 'integrations:read', listInput, raw, []);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const filters: SQL[] = [eq(webhookDeliveries.endpointId, input.endpointId)];
  if (input.status) filters.push(eq(webhookDeliveries.status, input.status));
  if (input.eventType) filters.push(eq(webhookDeliveries.eventType, input.eventType));
  return ok(await pageOfOrganization(deps.handle.db, webhookDeliveries, organizationId, window, and(...filters)));
}

/** A delivery's attempts, oldest first (the caller already read the delivery in its organization). */
export async function attemptsOf(deps: IntegrationsDeps, delivery: WebhookDeliveryRow): Promise<WebhookAttemptRow[]> {
  return deps.handle.db
    .select()
    .from(webhookAttempts)
    .where(
      and(eq(webhookAttempts.deliveryId, delivery.id), eq(webhookAttempts.organizationId, delivery.organizationId)),
    )
    .orderBy(asc(webhookAttempts.attempt));
}

async function enabledEndpoint(deps: IntegrationsDeps, organizationId: string, endpointId: string) {
  const [endpoint] = await deps.handle.db
    .select({ enabled: webhookEndpoints.enabled, disabledReason: webhookEndpoints.disabledReason })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.organizationId, organizationId)));
  if (!endpoint) return fail(new NotFoundError('WebhookEndpoint', endpointId));
  if (!endpoint.enabled) return fail(new WebhookEndpointDisabledError(endpointId, endpoint.disabledReason));
  return ok(endpoint);
}

/** Pending again, due now, retried for a fresh window; a delivery being tried right now is left to finish. */
const replayed = (at: Date) => ({
  status: 'pending',
  nextAttemptAt: at,
  retryUntil: new Date(at.getTime() + RETRY_WINDOW_MS),
});
const notInFlight = (at: Date) => or(isNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, at));

export async function replayWebhookDelivery(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof idInput>,
): Promise<Result<WebhookDeliveryRow>> {
  const access = authorize(ctx, 'integrations:admin', idInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [delivery] = await deps.handle.db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.id, input.id), eq(webhookDeliveries.organizationId, organizationId)));
  if (!delivery) return fail(new NotFoundError('WebhookDelivery', input.id));
  const endpoint = await enabledEndpoint(deps, organizationId, delivery.endpointId);
  if (!endpoint.ok) return endpoint;
  const at = deps.now?.() ?? new Date();
  const [row] = await deps.handle.db
    .update(webhookDeliveries)
    .set(replayed(at))
    .where(and(eq(webhookDeliveries.id, delivery.id), notInFlight(at)))
    .returning();
  return ok(row ?? delivery);
}

/** Replays every delivery to the endpoint of an event that occurred in [from, to]; returns how many. */
export async function replayWebhookDeliveries(
  deps: IntegrationsDeps,
  ctx: RequestContext,
  raw: z.input<typeof rangeInput>,
): Promise<Result<number>> {
  const access = authorize(ctx, 'integrations:admin', rangeInput, raw, ['input']);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const endpoint = await enabledEndpoint(deps, organizationId, input.endpointId);
  if (!endpoint.ok) return endpoint;
  const at = deps.now?.() ?? new Date();
  const rows = await deps.handle.db
    .update(webhookDeliveries)
    .set(replayed(at))
    .where(
      and(
        eq(webhookDeliveries.organizationId, organizationId),
        eq(webhookDeliveries.endpointId, input.endpointId),
        gte(webhookDeliveries.occurredAt, input.from),
        lte(webhookDeliveries.occurredAt, input.to),
        notInFlight(at),
      ),
    )
    .returning({ id: webhookDeliveries.id });
  return ok(rows.length);
}
