// Twilio Messaging status callbacks (application/x-www-form-urlencoded), verified with the
// X-Twilio-Signature the SDK computes.
import { fail, ok, type Result } from '@mauntic/kernel';
import twilio from 'twilio';
import { InvalidPayloadError, InvalidSignatureError } from '../domain/errors.ts';
import { type BounceReason, compact, type Feedback, messageIdFromHeader } from './feedback.ts';
import { headerValue, type WebhookRequest } from './webhook-request.ts';

export interface TwilioWebhookOptions {
  authToken: string;
  /** The exact URL Twilio was given as StatusCallback, query string included. */
  url: string;
  /** Query parameter of that URL that carries our message id. */
  messageIdParam?: string;
}

// Error codes that say the number itself cannot receive: suppress. Everything else (carrier
// filtering, unreachable handset, queue overflow, our own account problems) is worth retrying.
const HARD_ERRORS = new Set(['21211', '21214', '21612', '21614', '30004', '30005', '30006']);
// The carrier filtered the message as spam: ours to fix, not the number's.
const CARRIER_FILTERED = '30007';
// The recipient replied STOP: Twilio refuses further messages from this sender.
const OPTED_OUT_ERRORS = new Set(['21610']);

export function parseTwilioWebhook(
  request: WebhookRequest,
  options: TwilioWebhookOptions,
): Result<Feedback[], InvalidSignatureError | InvalidPayloadError> {
  const params: Record<string, string | string[]> = {};
  for (const [key, value] of new URLSearchParams(request.body.toString('utf8'))) {
    const existing = params[key];
    params[key] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
  }
  const signature = headerValue(request, 'x-twilio-signature');
  if (!signature || !twilio.validateRequest(options.authToken, signature, options.url, params)) {
    return fail(new InvalidSignatureError('X-Twilio-Signature does not match'));
  }
  const single = (name: string) => {
    const value = params[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const status = (single('MessageStatus') ?? single('SmsStatus'))?.toLowerCase();
  const recipient = single('To');
  if (!status || !single('MessageSid')) return fail(new InvalidPayloadError('Not a Twilio status callback'));
  if (!recipient) return fail(new InvalidPayloadError('Status callback without To'));

  let messageId: string | undefined;
  try {
    messageId = messageIdFromHeader(new URL(options.url).searchParams.get(options.messageIdParam ?? 'message') ?? '');
  } catch {
    return fail(new InvalidPayloadError(`Callback URL ${options.url} is not a URL`));
  }

  if (status === 'delivered' || status === 'read') return ok([compact({ kind: 'delivered', recipient, messageId })]);
  if (status !== 'undelivered' && status !== 'failed') return ok([]);
  const errorCode = single('ErrorCode');
  if (errorCode && OPTED_OUT_ERRORS.has(errorCode)) return ok([compact({ kind: 'unsubscribe', recipient, messageId })]);
  const hard = errorCode !== undefined && HARD_ERRORS.has(errorCode);
  const reason: BounceReason = hard
    ? 'user_unknown'
    : errorCode === CARRIER_FILTERED
      ? 'content_spam_virus'
      : 'unknown';
  return ok([
    compact({
      kind: 'bounce',
      bounceType: hard ? 'hard' : 'soft',
      reason,
      recipient,
      status: errorCode,
      diagnostic: single('ErrorMessage') ?? (errorCode ? `Twilio error ${errorCode}` : `Message ${status}`),
      messageId,
    }),
  ]);
}
