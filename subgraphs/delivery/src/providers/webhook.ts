// Outbound webhooks: one HTTP request per message, optionally signed so the receiver can check it
// came from us (`X-Mauntic-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`). Requests go
// through node:http agents rather than fetch, so that an outbound guard can check the address each
// connection reaches.
import { createHmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { OutboundGuard } from '@mauntic/platform';
import { addressRefused, errorFromStatus, networkError } from './errors.ts';
import { type Provider, ProviderError, type SendOptions, type SendResult, type WebhookMessage } from './types.ts';

export interface WebhookOptions {
  /** Base that relative message URLs resolve against. */
  url?: string;
  /** HMAC key for the signature header; unsigned when absent. */
  secret?: string;
  timeoutMs?: number;
  /** Where message URLs may lead, checked on every connection; unchecked without one. */
  outbound?: OutboundGuard;
}

export const SIGNATURE_HEADER = 'X-Mauntic-Signature';

export function signWebhook(secret: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
  return `t=${timestamp},v1=${mac}`;
}

interface Answer {
  status: number;
  requestId: string | null;
  /** The body, or as much of it as arrived: only error messages quote it. */
  text: string;
}

interface Call {
  method: WebhookMessage['method'];
  headers: Record<string, string>;
  body: string | undefined;
  agents: { http: HttpAgent; https: HttpsAgent };
  signal: AbortSignal;
}

/** One request; resolves once the answer's status is known and its body has ended or broken off. */
function call(url: URL, { method, headers, body, agents, signal }: Call): Promise<Answer> {
  const https = url.protocol === 'https:';
  const send = https ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = send(url, { method, headers, agent: https ? agents.https : agents.http, signal }, (response) => {
      answered = true;
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      // The status is the answer; a body cut short (a timeout, a reset) only shortens the text.
      response.on('error', () => {});
      response.on('close', () => resolve(answer(response, Buffer.concat(chunks).toString('utf8'))));
    });
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    request.end(body);
  });
}

function answer(response: IncomingMessage, text: string): Answer {
  const id = response.headers['x-request-id'];
  return { status: response.statusCode ?? 0, requestId: typeof id === 'string' ? id : null, text };
}

export function createWebhookProvider(options: WebhookOptions = {}): Provider<WebhookMessage> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  // A receiver gets message after message: its connections stay open between them.
  const agents = options.outbound?.agents({ keepAlive: true }) ?? {
    http: new HttpAgent({ keepAlive: true }),
    https: new HttpsAgent({ keepAlive: true }),
  };
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
      if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
      if (options.secret) {
        headers[SIGNATURE_HEADER] = signWebhook(options.secret, Math.floor(Date.now() / 1000), body ?? '');
      }
      let response: Answer;
      try {
        // Redirects are not followed: the configured URL is the one we agreed to call.
        sendOptions?.onHandedOver?.();
        response = await call(url, {
          method: message.method,
          headers,
          body,
          agents,
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw addressRefused(error) ?? networkError(error);
      }
      const { status, text } = response;
      if (status >= 200 && status < 300) return { providerMessageId: response.requestId };
      // Unlike the provider APIs, a receiver answering 401/403 is refusing us for good.
      if (status === 401 || status === 403) {
        throw new ProviderError(`HTTP ${status}: ${text.slice(0, 200)}`, false, `http_${status}`);
      }
      if (status >= 300 && status < 400) {
        throw new ProviderError(`HTTP ${status}: redirects are not followed`, false, 'redirect');
      }
      throw errorFromStatus(status, text.slice(0, 200));
    },
    async close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
