// Outbound webhooks: one HTTP request per message, optionally signed so the receiver can check it
// came from us (`X-Mauntic-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`).
import { createHmac } from 'node:crypto';
import { errorFromStatus, networkError } from './errors.ts';
import { type Provider, ProviderError, type SendOptions, type SendResult, type WebhookMessage } from './types.ts';

export interface WebhookOptions {
  /** Base that relative message URLs resolve against. */
  url?: string;
  /** HMAC key for the signature header; unsigned when absent. */
  secret?: string;
  timeoutMs?: number;
}

export const SIGNATURE_HEADER = 'X-Mauntic-Signature';

export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

export function createWebhookProvider(options: WebhookOptions = {}): Provider<WebhookMessage> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    kind: 'webhook',
    async send(message: WebhookMessage, sendOptions?: SendOptions): Promise<SendResult> {
      let url: URL;
      try {
        url = options.url ? new URL(message.url, options.url) : new URL(message.url);
      } catch {
        throw new ProviderError(`invalid webhook URL: ${message.url}`, false, 'invalid_url');
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new ProviderError(`unsupported webhook URL scheme: ${url.protocol}`, false, 'invalid_url');
      }
      const body = message.method === 'GET' ? undefined : (message.body ?? '');
      const headers: Record<string, string> = { 'User-Agent': 'Mauntic-Webhook/1', ...message.headers };
      headers['X-Mauntic-Message-Id'] = message.messageId;
      if (options.secret) {
        headers[SIGNATURE_HEADER] = signWebhook(options.secret, Math.floor(Date.now() / 1000), body ?? '');
      }
      let response: Response;
      try {
        // Redirects are not followed: the configured URL is the one we agreed to call.
        sendOptions?.onHandedOver?.();
        response = await fetch(url, {
          method: message.method,
          headers,
          body,
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw networkError(error);
      }
      // Drain the body so the keep-alive connection is reused.
      const text = await response.text().catch(() => '');
      if (response.status >= 200 && response.status < 300) {
        return { providerMessageId: response.headers.get('x-request-id') };
      }
      // Unlike the provider APIs, a receiver answering 401/403 is refusing us for good.
      if (response.status === 401 || response.status === 403) {
        throw new ProviderError(`HTTP ${response.status}: ${text.slice(0, 200)}`, false, `http_${response.status}`);
      }
      if (response.status >= 300 && response.status < 400) {
        throw new ProviderError(`HTTP ${response.status}: redirects are not followed`, false, 'redirect');
      }
      throw errorFromStatus(response.status, text.slice(0, 200));
    },
    async close() {},
  };
}
