// Outbound webhooks' rules: which events an endpoint gets, the body and signature of a delivery,
// and when a failed delivery is tried again. No I/O.
import { createHmac, randomBytes } from 'node:crypto';
import type { EventEnvelope } from '@mauntic/kernel';

/**
 * `Mauntic-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, one v1 per
 * secret valid at the time (two during a rotation). Receivers compare against each v1 and refuse a
 * `t` more than SIGNATURE_TOLERANCE_S away from their clock (the replay window).
 */
export const SIGNATURE_HEADER = 'Mauntic-Signature';
export const SIGNATURE_TOLERANCE_S = 5 * 60;
/** After a rotation, the previous secret still signs for this long. */
export const ROTATION_OVERLAP_MS = 24 * 3600_000;
/** How long a delivery is retried after it was recorded (or replayed). */
export const RETRY_WINDOW_MS = 3 * 24 * 3600_000;
/** A response body is kept in the delivery log up to this many characters. */
export const RESPONSE_EXCERPT_CHARS = 1024;

export const newWebhookSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;
/** Its first characters, so people can tell secrets apart. */
export const secretPrefix = (secret: string) => secret.slice(0, 10);

export function signatureHeader(secrets: readonly string[], timestamp: number, body: string): string {
  const signatures = secrets.map(
    (secret) => `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`,
  );
  return [`t=${timestamp}`, ...signatures].join(',');
}

/** What the endpoint receives: the event as catalogued, without the platform's tracing fields. */
export const webhookBody = (event: EventEnvelope) =>
  JSON.stringify({
    id: event.id,
    type: event.type,
    occurredAt: event.occurredAt,
    organizationId: event.organizationId,
    data: event.data,
  });

export interface EndpointFilter {
  eventTypes: readonly string[];
  segmentIds: readonly string[];
  templateIds: readonly string[];
}

/**
 * Whether the endpoint wants the event: its type is subscribed, and when the endpoint filters by
 * segments (or templates), an event that names a segment (a template) must name one of them.
 * Events that name none pass the filter.
 */
export function wantsEvent(endpoint: EndpointFilter, event: Pick<EventEnvelope, 'type' | 'data'>): boolean {
  if (!endpoint.eventTypes.includes(event.type)) return false;
  const data = (event.data ?? {}) as { segmentId?: unknown; templateId?: unknown };
  if (endpoint.segmentIds.length && typeof data.segmentId === 'string' && !endpoint.segmentIds.includes(data.segmentId))
    return false;
  if (
    endpoint.templateIds.length &&
    typeof data.templateId === 'string' &&
    !endpoint.templateIds.includes(data.templateId)
  )
    return false;
  return true;
}

/**
 * Wait before try `attempt + 1` after `attempt` failed: exponential from `baseMs`, capped at
 * `capMs`, with full jitter over its upper half so endpoints coming back are not hit in waves.
 */
export function retryDelayMs(attempt: number, baseMs: number, capMs: number, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt - 1, 40));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export type AttemptOutcome =
  | { kind: 'succeeded' }
  /** 410 Gone: the receiver says the endpoint is no more; it is disabled at once. */
  | { kind: 'gone' }
  | { kind: 'failed' };

/** 2xx is a success; every other answer (redirects included: they are not followed) and every error is a failure. */
export function outcomeOf(statusCode: number | null): AttemptOutcome {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return { kind: 'succeeded' };
  if (statusCode === 410) return { kind: 'gone' };
  return { kind: 'failed' };
}

/** Whether an endpoint that keeps failing is to be disabled: enough failures in a row, for long enough. */
export function shouldDisable(
  consecutiveFailures: number,
  failingSince: Date,
  now: Date,
  policy: { failures: number; forMs: number },
): boolean {
  return consecutiveFailures >= policy.failures && now.getTime() - failingSince.getTime() >= policy.forMs;
}
