// SMS through Plivo's Message API with the official SDK:
// POST /v1/Account/{auth_id}/Message/, JSON, HTTP Basic auth.
import type { OutboundGuard } from '@mauntic/platform';
import { Client as PlivoClient } from 'plivo';
import { addressRefused, describe, errorFromStatus, networkError } from './errors.ts';
import { type Provider, ProviderError, type SendOptions, type SendResult, type SmsMessage } from './types.ts';

export interface PlivoOptions {
  authId: string;
  authToken: string;
  from?: string;
  /** API origin; defaults to https://api.plivo.com. */
  baseUrl?: string;
  timeoutMs?: number;
  /**
   * Where `baseUrl` may lead. The SDK takes no agent (it shares one process-wide), so the origin
   * is checked before each send, not where its socket connects.
   */
  outbound?: OutboundGuard;
}

export function plivoError(error: unknown): ProviderError {
  const refused = addressRefused(error);
  if (refused) return refused;
  // The SDK rejects with a string (the stack) when no response came back at all.
  if (typeof error === 'string') return networkError(new Error(error.split('\n')[0]));
  const status = (error as { status?: unknown }).status;
  if (typeof status === 'number') return errorFromStatus(status, describe(error));
  // Statuses outside the SDK's own table (429, 502, 503...) arrive as a bare Error whose message
  // is the underlying axios error's: "... status code 503".
  const fromMessage = /status code (\d{3})/.exec(describe(error));
  if (fromMessage) return errorFromStatus(Number(fromMessage[1]), describe(error));
  return networkError(error);
}

export function createPlivoProvider(options: PlivoOptions): Provider<SmsMessage> {
  const origin = (options.baseUrl ?? 'https://api.plivo.com').replace(/\/+$/, '');
  const client = new PlivoClient(options.authId, options.authToken, {
    url: `${origin}/v1/Account/${options.authId}`,
    timeout: options.timeoutMs ?? 15_000,
  });

  return {
    kind: 'plivo',
    async send(message: SmsMessage, sendOptions?: SendOptions): Promise<SendResult> {
      const src = message.from ?? options.from;
      if (!src) throw new ProviderError('plivo: no sender configured', false, 'no_sender');
      let response: { messageUuid?: string[] };
      try {
        if (options.baseUrl) await options.outbound?.assertPublicHost(new URL(origin).hostname);
        sendOptions?.onHandedOver?.();
        response = await client.messages.create(
          src,
          message.to,
          message.body,
          message.statusCallbackUrl ? { url: message.statusCallbackUrl, method: 'POST' } : {},
        );
      } catch (error) {
        throw plivoError(error);
      }
      return { providerMessageId: response.messageUuid?.[0] ?? null };
    },
    async close() {},
  };
}
