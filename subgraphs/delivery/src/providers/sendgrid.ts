// Email through SendGrid's v3 Mail Send API (POST /v3/mail/send, Bearer API key) with the official
// SDK. SendGrid takes no raw MIME: the message goes as its JSON fields.
import type { OutboundGuard } from '@mauntic/platform';
import sendgrid from '@sendgrid/mail';
import { addressRefused, describe, errorFromStatus, isNetworkError, networkError } from './errors.ts';
import { type EmailMessage, type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

export interface SendgridOptions {
  apiKey: string;
  /** API origin; defaults to https://api.sendgrid.com. */
  baseUrl?: string;
  timeoutMs?: number;
  /** Where `baseUrl` may lead, checked on every connection; unchecked without one. */
  outbound?: OutboundGuard;
}

/** Headers SendGrid sets itself and rejects in `headers` (its documented reserved list). */
const RESERVED_HEADERS = new Set([
  'x-sg-id',
  'x-sg-eid',
  'received',
  'dkim-signature',
  'content-type',
  'content-transfer-encoding',
  'to',
  'from',
  'subject',
  'reply-to',
  'cc',
  'bcc',
]);

// The package's types declare MailService both as `export =` and as a named export, which TypeScript
// only lets a default import reach; the class is there at runtime.
const { MailService } = sendgrid as unknown as { MailService: new () => typeof sendgrid };

interface SendgridClient {
  setApiKey(key: string): void;
  setDefaultRequest(key: string, value: unknown): void;
}

export function sendgridError(error: unknown): ProviderError {
  const refused = addressRefused(error);
  if (refused) return refused;
  const response = (error as { response?: { body?: { errors?: { message?: string }[] } } }).response;
  const status = (error as { code?: unknown }).code;
  if (typeof status === 'number') {
    const detail = response?.body?.errors?.map((e) => e.message).join('; ') ?? describe(error);
    return errorFromStatus(status, detail);
  }
  if (isNetworkError(error)) return networkError(error);
  return new ProviderError(`sendgrid: ${describe(error)}`, true, 'network');
}

export function createSendgridProvider(options: SendgridOptions): Provider<EmailMessage> {
  // One MailService per provider: the SDK's default export is a process-wide singleton.
  const service = new MailService();
  // MailService keeps its HTTP client here; the SDK documents setDefaultRequest for overrides.
  const client = (service as unknown as { client: SendgridClient }).client;
  client.setApiKey(options.apiKey);
  if (options.baseUrl) client.setDefaultRequest('baseUrl', options.baseUrl.replace(/\/+$/, ''));
  service.setTimeout(options.timeoutMs ?? 15_000);
  // An origin of the organization's choosing is reached through the guard: the client hands its
  // default request options, these agents included, to axios.
  const agents = options.baseUrl ? options.outbound?.agents({ keepAlive: true }) : undefined;
  if (agents) {
    client.setDefaultRequest('httpAgent', agents.http);
    client.setDefaultRequest('httpsAgent', agents.https);
  }

  return {
    kind: 'sendgrid',
    async send(message: EmailMessage, sendOptions?: SendOptions): Promise<SendResult> {
      const headers = Object.fromEntries(
        Object.entries(message.headers).filter(([name]) => !RESERVED_HEADERS.has(name.toLowerCase())),
      );
      try {
        sendOptions?.onHandedOver?.();
        const [response] = await service.send({
          from: { email: message.from.address, name: message.from.name },
          to: message.to,
          replyTo: message.replyTo,
          subject: message.subject,
          text: message.text,
          html: message.html,
          headers,
          // Comes back on every event webhook, which is how bounces find their message.
          customArgs: { mauntic_message_id: message.messageId },
        });
        const id = response.headers['x-message-id'];
        return { providerMessageId: typeof id === 'string' ? id : null };
      } catch (error) {
        throw sendgridError(error);
      }
    },
    async close() {
      agents?.http.destroy();
      agents?.https.destroy();
    },
  };
}
