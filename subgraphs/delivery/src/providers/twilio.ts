// SMS through Twilio's Programmable Messaging API with the official SDK:
// POST /2010-04-01/Accounts/{AccountSid}/Messages.json, form-encoded, HTTP Basic auth.
import type { OutboundGuard } from '@mauntic/platform';
import twilio from 'twilio';
import { addressRefused, describe, errorFromStatus, isNetworkError, networkError } from './errors.ts';
import { type Provider, ProviderError, type SendOptions, type SendResult, type SmsMessage } from './types.ts';

export interface TwilioOptions {
  accountSid: string;
  authToken: string;
  /** Default sender (E.164 or alphanumeric id) when the message names none. */
  from?: string;
  /** Messaging Service to send through when the message names no sender; wins over `from`. */
  messagingServiceSid?: string;
  /** API origin, e.g. a regional edge or a local test server. Defaults to https://api.twilio.com. */
  baseUrl?: string;
  timeoutMs?: number;
  /** Where `baseUrl` may lead, checked on every connection; unchecked without one. */
  outbound?: OutboundGuard;
}

/** Twilio error codes that reject the recipient for good: invalid or non-mobile number, opted out. */
const PERMANENT_TWILIO_CODES = new Set([21211, 21214, 21217, 21401, 21407, 21408, 21610, 21612, 21614, 30003]);

export function twilioError(error: unknown): ProviderError {
  const refused = addressRefused(error);
  if (refused) return refused;
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') {
    const twilioCode = (error as { code?: unknown }).code;
    const code = typeof twilioCode === 'number' ? `twilio_${twilioCode}` : undefined;
    if (typeof twilioCode === 'number' && PERMANENT_TWILIO_CODES.has(twilioCode)) {
      return new ProviderError(`HTTP ${status}: ${describe(error)}`, false, code);
    }
    return errorFromStatus(status, describe(error), code);
  }
  if (isNetworkError(error)) return networkError(error);
  return new ProviderError(`twilio: ${describe(error)}`, true, 'network');
}

export function createTwilioProvider(options: TwilioOptions): Provider<SmsMessage> {
  const client = twilio(options.accountSid, options.authToken, {
    timeout: options.timeoutMs ?? 15_000,
    keepAlive: true,
    // Retries are the engine's job, where they are recorded and can fail over.
    autoRetry: false,
  });
  // The SDK builds every Messages URL from this domain's base URL; overriding it is how the SDK
  // talks to a regional endpoint or a test server while forming exactly the documented request.
  if (options.baseUrl) client.api.baseUrl = options.baseUrl;
  // ... and then connects through the guard's agents, in place of the SDK's own keep-alive agent.
  const agents = options.baseUrl ? options.outbound?.agents({ keepAlive: true }) : undefined;
  if (agents) {
    const { defaults } = client.httpClient!.axios;
    defaults.httpAgent = agents.http;
    defaults.httpsAgent = agents.https;
  }

  return {
    kind: 'twilio',
    async send(message: SmsMessage, sendOptions?: SendOptions): Promise<SendResult> {
      const sender = message.from
        ? { from: message.from }
        : options.messagingServiceSid
          ? { messagingServiceSid: options.messagingServiceSid }
          : options.from
            ? { from: options.from }
            : undefined;
      if (!sender) throw new ProviderError('twilio: no sender configured', false, 'no_sender');
      try {
        sendOptions?.onHandedOver?.();
        const created = await client.messages.create({
          to: message.to,
          body: message.body,
          ...sender,
          ...(message.statusCallbackUrl ? { statusCallback: message.statusCallbackUrl } : {}),
        });
        return { providerMessageId: created.sid };
      } catch (error) {
        throw twilioError(error);
      }
    },
    async close() {
      agents?.http.destroy();
      agents?.https.destroy();
    },
  };
}
