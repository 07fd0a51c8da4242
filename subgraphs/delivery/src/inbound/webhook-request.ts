// A provider webhook request as the parsers read it, and the small readers they share.
import { InvalidPayloadError } from '../domain/errors.ts';

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
