// Email through Amazon SES v2 SendEmail (POST /v2/email/outbound-emails) with the AWS SDK, always
// as raw MIME so our headers (List-Unsubscribe, Message-ID...) go out exactly as built.
import { SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import type { OutboundGuard } from '@mauntic/platform';
import { addressRefused, describe, errorFromStatus, isNetworkError, networkError } from './errors.ts';
import { toMime } from './mime.ts';
import { type EmailMessage, type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

export interface SesOptions {
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Endpoint override (VPC endpoint, local test server). */
  endpoint?: string;
  /** Configuration set whose event destinations report bounces and complaints. */
  configurationSet?: string;
  timeoutMs?: number;
  /** Where `endpoint` may lead, checked on every connection; unchecked without one. */
  outbound?: OutboundGuard;
}

/** SES errors about our account, not the recipient: another provider can still send. */
const ACCOUNT_ERRORS = new Set([
  'AccountSuspendedException',
  'SendingPausedException',
  'MailFromDomainNotVerifiedException',
  'LimitExceededException',
  'TooManyRequestsException',
]);

export function sesError(error: unknown): ProviderError {
  const refused = addressRefused(error);
  if (refused) return refused;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = error instanceof Error ? error.name : 'Error';
  if (typeof status === 'number') {
    if (ACCOUNT_ERRORS.has(name)) return new ProviderError(`SES ${name}: ${describe(error)}`, true, name);
    return errorFromStatus(status, `${name}: ${describe(error)}`, name);
  }
  if (isNetworkError(error)) return networkError(error);
  return new ProviderError(`SES: ${describe(error)}`, true, 'network');
}

export function createSesProvider(options: SesOptions): Provider<EmailMessage> {
  // An endpoint of the organization's choosing is reached through the guard (the client's destroy()
  // closes these agents).
  const agents = options.endpoint ? options.outbound?.agents({ keepAlive: true }) : undefined;
  const client = new SESv2Client({
    region: options.region,
    endpoint: options.endpoint,
    credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
    // The engine retries with backoff and fails over; SDK retries would only delay that.
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: options.timeoutMs ?? 15_000,
      ...(agents ? { httpAgent: agents.http, httpsAgent: agents.https } : {}),
    },
  });

  return {
    kind: 'ses',
    async send(message: EmailMessage, sendOptions?: SendOptions): Promise<SendResult> {
      const raw = await toMime(message);
      try {
        sendOptions?.onHandedOver?.();
        const result = await client.send(
          new SendEmailCommand({
            FromEmailAddress: message.from.address,
            Destination: { ToAddresses: [message.to] },
            Content: { Raw: { Data: raw } },
            ConfigurationSetName: options.configurationSet,
            // Echoed in SES event notifications, so bounces find their message.
            EmailTags: [{ Name: 'mauntic_message_id', Value: message.messageId }],
          }),
        );
        return { providerMessageId: result.MessageId ?? null };
      } catch (error) {
        throw sesError(error);
      }
    },
    async close() {
      client.destroy();
    },
  };
}
