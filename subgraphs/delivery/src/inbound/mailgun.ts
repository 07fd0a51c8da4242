// Mailgun webhooks: one JSON event per request, `{ signature: { timestamp, token, signature },
// "event-data": { ... } }`, the signature an HMAC-SHA256 of timestamp + token with the webhook
// signing key.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { fail, ok, type Result } from '@mauntic/kernel';
import { classifyBounce, findEnhancedStatus } from '../domain/bounce.ts';
import { InvalidPayloadError, InvalidSignatureError, StaleWebhookError, type WebhookError } from '../domain/errors.ts';
import { compact, type Feedback, messageIdFromHeader, messageIdFromMessageId, normalizeAddress } from './feedback.ts';
import { isRecord, parseJson, str, type WebhookRequest } from './webhook-request.ts';

export interface MailgunWebhookOptions {
  signingKey: string;
  /** Refuse signatures older than this; off when absent. */
  maxAgeSeconds?: number;
  now?: Date;
}

export function mailgunSignature(signingKey: string, timestamp: string, token: string): string {
  return createHmac('sha256', signingKey)
    .update(timestamp + token)
    .digest('hex');
}

export function parseMailgunWebhook(
  request: WebhookRequest,
  options: MailgunWebhookOptions,
): Result<Feedback[], WebhookError> {
  const json = parseJson(request.body);
  if (!json.ok) return json;
  const body = json.value;
  if (!isRecord(body) || !isRecord(body.signature) || !isRecord(body['event-data'])) {
    return fail(new InvalidPayloadError('Not a Mailgun webhook: signature and event-data are required'));
  }
  const timestamp = str(body.signature.timestamp) ?? '';
  const token = str(body.signature.token) ?? '';
  const given = Buffer.from(str(body.signature.signature) ?? '', 'utf8');
  const expected = Buffer.from(mailgunSignature(options.signingKey, timestamp, token), 'utf8');
  if (!timestamp || !token || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail(new InvalidSignatureError('Mailgun signature does not match'));
  }
  if (options.maxAgeSeconds !== undefined) {
    const age = (options.now ?? new Date()).getTime() / 1000 - Number(timestamp);
    if (!Number.isFinite(age) || Math.abs(age) > options.maxAgeSeconds) {
      return fail(new StaleWebhookError(`Mailgun signature timestamp ${timestamp} is too old`));
    }
  }
  const feedback = mailgunEventFeedback(body['event-data']);
  return ok(feedback ? [feedback] : []);
}

function mailgunEventFeedback(event: Record<string, unknown>): Feedback | undefined {
  const recipient = normalizeAddress(str(event.recipient));
  if (!recipient) return undefined;
  const variables = isRecord(event['user-variables']) ? event['user-variables'] : {};
  const headers = isRecord(event.message) && isRecord(event.message.headers) ? event.message.headers : {};
  const messageId =
    messageIdFromHeader(str(variables['mauntic-message-id'])) ??
    messageIdFromMessageId(str(headers['message-id'])?.replace(/^<?/, '<').replace(/>?$/, '>'));
  switch (str(event.event)) {
    case 'failed': {
      const reason = str(event.reason);
      if (reason === 'suppress-complaint')
        return compact({ kind: 'complaint', recipient, feedbackType: 'abuse', messageId });
      if (reason === 'suppress-unsubscribe') return compact({ kind: 'unsubscribe', recipient, messageId });
      const delivery = isRecord(event['delivery-status']) ? event['delivery-status'] : {};
      const code = str(delivery.code);
      const text = [str(delivery.message), str(delivery.description)].filter(Boolean).join(' ').trim();
      const status = str(delivery['enhanced-code']) ?? findEnhancedStatus(text);
      const diagnostic = [code, text].filter(Boolean).join(' ');
      // temporary: Mailgun will try again. permanent: it gave up, either on the reply (5xx) or because
      // retries ran out on 4xx replies ("old"); the reply says whether the address is dead.
      // suppress-bounce: Mailgun refused to send to an address that bounced hard before.
      const classified =
        reason === 'suppress-bounce'
          ? ({ reason: 'user_unknown', bounceType: 'hard' } as const)
          : classifyBounce({
              action: str(event.severity) === 'temporary' ? 'delayed' : 'failed',
              status: status ?? code,
              diagnostic,
            });
      return compact({
        kind: 'bounce',
        bounceType: classified.bounceType,
        reason: classified.reason,
        recipient,
        status: status ?? code,
        diagnostic: diagnostic || reason,
        messageId,
      });
    }
    case 'complained':
      return compact({ kind: 'complaint', recipient, feedbackType: 'abuse', messageId });
    case 'delivered':
      return compact({ kind: 'delivered', recipient, messageId });
    case 'unsubscribed':
      return compact({ kind: 'unsubscribe', recipient, messageId });
    default:
      return undefined;
  }
}
