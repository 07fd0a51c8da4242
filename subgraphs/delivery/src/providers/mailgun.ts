// Email through Mailgun's Messages API with mailgun.js: raw MIME to /v3/{domain}/messages.mime when
// the engine built one, the message's fields to /v3/{domain}/messages otherwise.
import type { OutboundGuard } from '@mauntic/platform';
import FormData from 'form-data';
import Mailgun from 'mailgun.js';
import { ADDRESS_REFUSED, addressRefused, describe, errorFromStatus, networkError } from './errors.ts';
import { formatAddress } from './mime.ts';
import type { EmailMessage, Provider, ProviderError, SendOptions, SendResult } from './types.ts';

export interface MailgunOptions {
  domain: string;
  apiKey: string;
  /** API origin: https://api.mailgun.net (default) or https://api.eu.mailgun.net. */
  url?: string;
  timeoutMs?: number;
  /** Where `url` may lead, checked on every connection; unchecked without one. */
  outbound?: OutboundGuard;
}

export function mailgunError(error: unknown): ProviderError {
  const failure = error as { status?: unknown; message?: string; details?: string };
  // mailgun.js keeps only the code (as the message) and the text (as details) of a socket error.
  if (failure.message === ADDRESS_REFUSED)
    return addressRefused(Object.assign(new Error(failure.details), { code: ADDRESS_REFUSED }))!;
  // mailgun.js reports a failure without a response as status 400 with the socket error code as
  // its message; that is a network fault, not a rejection.
  if (failure.message && /^(E[A-Z_]+|ERR_[A-Z_]+)$/.test(failure.message)) {
    return networkError(Object.assign(new Error(failure.details ?? failure.message), { code: failure.message }));
  }
  if (typeof failure.status === 'number') {
    return errorFromStatus(failure.status, failure.details || describe(error));
  }
  return networkError(error);
}

export function createMailgunProvider(options: MailgunOptions): Provider<EmailMessage> {
  const client = new Mailgun(FormData).client({
    username: 'api',
    key: options.apiKey,
    url: options.url,
    timeout: options.timeoutMs ?? 15_000,
  });
  // An origin of the organization's choosing is reached through the guard. mailgun.js takes no
  // agent, but its request provider spreads the request data it is given into the axios request.
  const agents = options.url ? options.outbound?.agents({ keepAlive: true }) : undefined;
  if (agents) {
    const provider = client.request.requestProvider;
    const makeRequest = provider.makeRequest.bind(provider);
    provider.makeRequest = (url, method, data, config) =>
      makeRequest(url, method, { ...(data as object), httpAgent: agents.http, httpsAgent: agents.https }, config);
  }

  return {
    kind: 'mailgun',
    async send(message: EmailMessage, sendOptions?: SendOptions): Promise<SendResult> {
      const variables = { 'v:mauntic-message-id': message.messageId };
      const data = message.raw
        ? { to: message.to, message: message.raw, ...variables }
        : {
            from: formatAddress(message.from),
            to: message.to,
            subject: message.subject,
            text: message.text,
            html: message.html,
            ...(message.replyTo ? { 'h:Reply-To': message.replyTo } : {}),
            ...Object.fromEntries(Object.entries(message.headers).map(([name, value]) => [`h:${name}`, value])),
            ...variables,
          };
      try {
        sendOptions?.onHandedOver?.();
        const result = await client.messages.create(options.domain, data);
        return { providerMessageId: result.id ?? null };
      } catch (error) {
        throw mailgunError(error);
      }
    },
    async close() {
      agents?.http.destroy();
      agents?.https.destroy();
    },
  };
}
