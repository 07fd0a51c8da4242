// Why a provider webhook was refused. The HTTP layer answers 401/403 for the signature and trust
// errors and 400 for the payload ones; none of them should be retried by the provider as is.
import { DomainError } from '@mauntic/kernel';

export class InvalidSignatureError extends DomainError {
  readonly type = 'invalid_signature' as const;
  readonly code = 'WEBHOOK_SIGNATURE_INVALID';
}

export class InvalidPayloadError extends DomainError {
  readonly type = 'invalid_payload' as const;
  readonly code = 'WEBHOOK_PAYLOAD_INVALID';
}

/** The request is signed, but by a party we do not trust (certificate host, topic, age). */
export class UntrustedSenderError extends DomainError {
  readonly type = 'untrusted_sender' as const;
  readonly code = 'WEBHOOK_SENDER_UNTRUSTED';
}

/** Signed too long ago: a replay, or a clock far off. */
export class StaleWebhookError extends DomainError {
  readonly type = 'stale' as const;
  readonly code = 'WEBHOOK_STALE';
}

export type WebhookError = InvalidSignatureError | InvalidPayloadError | UntrustedSenderError | StaleWebhookError;

export interface WebhookRequest {
  /** Header names in any case; Node's IncomingMessage.headers fits. */
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function headerValue(request: WebhookRequest, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value[0] : value;
  }
  return undefined;
}

export function parseJson(body: Buffer): { ok: true; value: unknown } | { ok: false; error: InvalidPayloadError } {
  try {
    return { ok: true, value: JSON.parse(body.toString('utf8')) };
  } catch (error) {
    return { ok: false, error: new InvalidPayloadError(`Body is not JSON: ${(error as Error).message}`) };
  }
}

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export const str = (value: unknown): string | undefined =>
  typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
