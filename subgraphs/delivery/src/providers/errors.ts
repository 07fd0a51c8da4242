// Shared mapping from transport failures (HTTP statuses, socket errors) to ProviderError, so every
// adapter agrees on what is worth retrying or failing over.
import { ProviderError } from './types.ts';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const TIMEOUT_CODES = new Set(['ETIMEDOUT', 'ESOCKETTIMEDOUT', 'ECONNABORTED', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * HTTP status to ProviderError. 408, 429 and 5xx are transient. 401/403 mean our credentials or
 * account are wrong, not the recipient: they are retryable (code `auth_failed`) so a failover
 * provider takes over while someone fixes the account. Every other 4xx is permanent.
 */
export function errorFromStatus(status: number, detail: string, code?: string): ProviderError {
  const message = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
  if (status === 401 || status === 403) return new ProviderError(message, true, code ?? 'auth_failed');
  if (status === 408 || status === 429) return new ProviderError(message, true, code ?? `http_${status}`);
  if (status >= 500) return new ProviderError(message, true, code ?? `http_${status}`);
  return new ProviderError(message, false, code ?? `http_${status}`);
}

/** A failure with no response at all: the request may or may not have reached the provider. */
export function networkError(error: unknown): ProviderError {
  const code = errorCode(error);
  const timeout =
    (code !== undefined && TIMEOUT_CODES.has(code)) ||
    (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'));
  return new ProviderError(`network error: ${describe(error)}`, true, timeout ? 'timeout' : 'network');
}

export function isNetworkError(error: unknown): boolean {
  const code = errorCode(error);
  if (code !== undefined && NETWORK_CODES.has(code)) return true;
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return true;
  const cause = error instanceof Error ? (error as { cause?: unknown }).cause : undefined;
  return cause !== undefined && cause !== error && isNetworkError(cause);
}

export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error ? errorCode(cause) : undefined;
}

export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return typeof error === 'string' ? error.split('\n')[0]! : JSON.stringify(error);
}

/** OutboundAddressError's code: @mauntic/platform's guard refused the address a host leads to. */
export const ADDRESS_REFUSED = 'ERR_OUTBOUND_ADDRESS_REFUSED';

/**
 * A connection the outbound guard refused (the provider's host leads to a loopback, private,
 * link-local or metadata address) as a permanent failure: trying again, or on the failover
 * provider, cannot help until the organization's settings or the operator's allow-list change.
 * The text keeps the host and address for operators; an organization reads a generic reason (see
 * domain/provider-failure.ts). Undefined when `error` is not such a refusal (its causes included).
 */
export function addressRefused(error: unknown): ProviderError | undefined {
  for (let current = error, depth = 0; typeof current === 'object' && current !== null && depth < 5; depth++) {
    if ((current as { code?: unknown }).code === ADDRESS_REFUSED)
      return new ProviderError(`${ADDRESS_REFUSED}: ${describe(current)}`, false, 'address_refused');
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Keeps adapters from wrapping an error twice when one helper calls another. */
export function asProviderError(error: unknown, map: (error: unknown) => ProviderError): ProviderError {
  return error instanceof ProviderError ? error : map(error);
}
