// SendGrid Event Webhook: a JSON array of events, optionally signed with ECDSA (P-256, SHA-256)
// over the timestamp header followed by the raw body.
import { createPublicKey, type KeyObject, verify } from 'node:crypto';
import { fail, ok, type Result } from '@mauntic/kernel';
import { classifyBounce, findEnhancedStatus } from '../domain/bounce.ts';
import { InvalidPayloadError, InvalidSignatureError, StaleWebhookError, type WebhookError } from '../domain/errors.ts';
import { compact, type Feedback, messageIdFromHeader, messageIdFromMessageId, normalizeAddress } from './feedback.ts';
import { headerValue, isRecord, parseJson, str, type WebhookRequest } from './webhook-request.ts';

export interface SendgridWebhookOptions {
  /** The verification key from SendGrid's settings (base64 DER), or a PEM. Unsigned requests are accepted without it. */
  publicKey?: string;
  /** Refuse signatures older than this; off when absent. */
  maxAgeSeconds?: number;
  now?: Date;
}

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

export function sendgridPublicKey(key: string): KeyObject {
  return key.includes('-----BEGIN')
    ? createPublicKey(key)
    : createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' });
}

export function parseSendgridWebhook(
  request: WebhookRequest,
  options: SendgridWebhookOptions = {},
): Result<Feedback[], WebhookError> {
  if (options.publicKey) {
    const signature = headerValue(request, SENDGRID_SIGNATURE_HEADER);
    const timestamp = headerValue(request, SENDGRID_TIMESTAMP_HEADER);
    if (!signature || !timestamp) return fail(new InvalidSignatureError('Missing SendGrid signature headers'));
    let valid = false;
    try {
      valid = verify(
        'sha256',
        Buffer.concat([Buffer.from(timestamp, 'utf8'), request.body]),
        { key: sendgridPublicKey(options.publicKey), dsaEncoding: 'der' },
        Buffer.from(signature, 'base64'),
      );
    } catch {
      valid = false;
    }
    if (!valid) return fail(new InvalidSignatureError('SendGrid signature does not match'));
    if (options.maxAgeSeconds !== undefined) {
      const age = (options.now ?? new Date()).getTime() / 1000 - Number(timestamp);
      if (!Number.isFinite(age) || Math.abs(age) > options.maxAgeSeconds) {
        return fail(new StaleWebhookError(`SendGrid signature timestamp ${timestamp} is too old`));
      }
    }
  }
  const json = parseJson(request.body);
  if (!json.ok) return json;
  if (!Array.isArray(json.value)) return fail(new InvalidPayloadError('SendGrid events must be a JSON array'));
  const feedback: Feedback[] = [];
  for (const event of json.value) {
    if (!isRecord(event)) return fail(new InvalidPayloadError('SendGrid event is not an object'));
    const item = sendgridEventFeedback(event);
    if (item) feedback.push(item);
  }
  return ok(feedback);
}

function sendgridEventFeedback(event: Record<string, unknown>): Feedback | undefined {
  const recipient = normalizeAddress(str(event.email));
  if (!recipient) return undefined;
  // customArgs come back as top-level fields of every event.
  const messageId = messageIdFromHeader(str(event.mauntic_message_id)) ?? messageIdFromMessageId(str(event['smtp-id']));
  // bounce and dropped explain themselves in `reason`, deferred in `response`.
  const reason = str(event.reason) ?? str(event.response);
  const status = str(event.status) ?? findEnhancedStatus(reason);
  switch (str(event.event)) {
    case 'bounce': {
      // type "blocked" is the receiver refusing us (IP, content), "bounce" the address failing;
      // either way the reply says why, and only a dead address is hard.
      const classified = classifyBounce({ action: 'failed', status, diagnostic: reason });
      const blocked = str(event.type) === 'blocked';
      return compact({
        kind: 'bounce',
        bounceType: blocked ? 'soft' : classified.bounceType,
        reason: blocked && classified.reason === 'unknown' ? 'blocklisted_reputation' : classified.reason,
        recipient,
        status,
        diagnostic: reason,
        messageId,
      });
    }
    case 'deferred': {
      const classified = classifyBounce({ action: 'delayed', status, diagnostic: reason });
      return compact({
        kind: 'bounce',
        bounceType: 'delayed',
        reason: classified.reason,
        recipient,
        status,
        diagnostic: reason,
        messageId,
      });
    }
    case 'dropped':
      // SendGrid dropped it because of its own suppression lists; mirror them in ours.
      if (reason && /bounced address|invalid/i.test(reason)) {
        return compact({
          kind: 'bounce',
          bounceType: 'hard',
          reason: 'user_unknown',
          recipient,
          status,
          diagnostic: reason,
          messageId,
        });
      }
      if (reason && /spam reporting address/i.test(reason)) {
        return compact({ kind: 'complaint', recipient, feedbackType: 'abuse', messageId });
      }
      if (reason && /unsubscribed address/i.test(reason)) return compact({ kind: 'unsubscribe', recipient, messageId });
      return undefined;
    case 'spamreport':
      return compact({ kind: 'complaint', recipient, feedbackType: 'abuse', messageId });
    case 'delivered':
      return compact({ kind: 'delivered', recipient, messageId });
    case 'unsubscribe':
    case 'group_unsubscribe':
      return compact({ kind: 'unsubscribe', recipient, messageId });
    default:
      return undefined;
  }
}
