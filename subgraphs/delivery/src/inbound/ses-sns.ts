// Amazon SES bounce, complaint, delivery and delay notifications delivered by SNS over HTTP(S).
// Every message is verified against the SNS signing certificate before anything in it is trusted.
import { createVerify, X509Certificate } from 'node:crypto';
import { fail, ok, type Result } from '@mauntic/kernel';
import { z } from 'zod';
import { type BounceReason, type BounceType, classifyBounce, suppressesAddress } from '../domain/bounce.ts';
import {
  InvalidPayloadError,
  InvalidSignatureError,
  UntrustedSenderError,
  type WebhookError,
} from '../domain/errors.ts';
import { compact, type Feedback, messageIdFromHeader, normalizeAddress, ourMessageId } from './feedback.ts';
import { bodyText, header, type MimePart } from './mime.ts';
import { headerValue, isRecord, parseJson, type WebhookRequest } from './webhook-request.ts';

export interface SnsWebhookOptions {
  /** Returns the PEM at a SigningCertURL. Called only for URLs that passed the host check; cache it. */
  fetchCertificate: (url: string) => Promise<string>;
  /** Hosts allowed to serve signing certificates. Default: `sns.<region>.amazonaws.com(.cn)`. */
  certificateHost?: RegExp;
  /** Topics we subscribed to. Strongly advised: any AWS account can produce validly signed messages. */
  topicArns?: string[];
  /** For certificate validity checks; defaults to the current time. */
  now?: Date;
}

export type SnsWebhookResult =
  | { type: 'notification'; topicArn: string; feedback: Feedback[] }
  /** GET subscribeUrl to confirm the subscription. */
  | { type: 'subscription_confirmation'; topicArn: string; subscribeUrl: string }
  | { type: 'unsubscribe_confirmation'; topicArn: string };

export const DEFAULT_SNS_CERTIFICATE_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?$/;

const envelopeSchema = z.object({
  Type: z.enum(['Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation']),
  MessageId: z.string(),
  TopicArn: z.string(),
  Message: z.string(),
  Timestamp: z.string(),
  SignatureVersion: z.enum(['1', '2']),
  Signature: z.string(),
  SigningCertURL: z.string(),
  Subject: z.string().nullish(),
  Token: z.string().optional(),
  SubscribeURL: z.string().optional(),
});
type SnsEnvelope = z.infer<typeof envelopeSchema>;

/** The string SNS signs: selected fields as `Name\nvalue\n`, in byte order of their names. */
export function snsStringToSign(message: SnsEnvelope): string {
  const keys =
    message.Type === 'Notification'
      ? (['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'] as const)
      : (['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'] as const);
  return keys
    .filter((key) => message[key] !== undefined && message[key] !== null)
    .map((key) => `${key}\n${message[key]}\n`)
    .join('');
}

export async function parseSnsWebhook(
  request: WebhookRequest,
  options: SnsWebhookOptions,
): Promise<Result<SnsWebhookResult, WebhookError>> {
  const json = parseJson(request.body);
  if (!json.ok) return json;
  const parsed = envelopeSchema.safeParse(json.value);
  if (!parsed.success) return fail(new InvalidPayloadError(`Not an SNS message: ${parsed.error.message}`));
  const message = parsed.data;
  const declaredType = headerValue(request, 'x-amz-sns-message-type');
  if (declaredType && declaredType !== message.Type) {
    return fail(new InvalidPayloadError(`x-amz-sns-message-type ${declaredType} does not match ${message.Type}`));
  }

  let certUrl: URL;
  try {
    certUrl = new URL(message.SigningCertURL);
  } catch {
    return fail(new UntrustedSenderError('SigningCertURL is not a URL'));
  }
  const hostPattern = options.certificateHost ?? DEFAULT_SNS_CERTIFICATE_HOST;
  if (certUrl.protocol !== 'https:' || !hostPattern.test(certUrl.hostname) || !certUrl.pathname.endsWith('.pem')) {
    return fail(new UntrustedSenderError(`Signing certificate ${certUrl.href} is not served by SNS`));
  }
  if (options.topicArns && !options.topicArns.includes(message.TopicArn)) {
    return fail(new UntrustedSenderError(`Topic ${message.TopicArn} is not subscribed`));
  }

  const pem = await options.fetchCertificate(certUrl.href);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch {
    return fail(new UntrustedSenderError('Signing certificate is not a valid X.509 certificate'));
  }
  const now = options.now ?? new Date();
  if (now < new Date(certificate.validFrom) || now > new Date(certificate.validTo)) {
    return fail(new UntrustedSenderError('Signing certificate is outside its validity period'));
  }
  const verifier = createVerify(message.SignatureVersion === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
  verifier.update(snsStringToSign(message), 'utf8');
  if (!verifier.verify(certificate.publicKey, message.Signature, 'base64')) {
    return fail(new InvalidSignatureError('SNS signature does not match'));
  }

  if (message.Type === 'SubscriptionConfirmation') {
    if (!message.SubscribeURL) return fail(new InvalidPayloadError('SubscriptionConfirmation without SubscribeURL'));
    return ok({ type: 'subscription_confirmation', topicArn: message.TopicArn, subscribeUrl: message.SubscribeURL });
  }
  if (message.Type === 'UnsubscribeConfirmation') {
    return ok({ type: 'unsubscribe_confirmation', topicArn: message.TopicArn });
  }
  const inner = parseJson(Buffer.from(message.Message, 'utf8'));
  if (!inner.ok) return inner;
  const feedback = sesFeedback(inner.value);
  if (!feedback.ok) return feedback;
  return ok({ type: 'notification', topicArn: message.TopicArn, feedback: feedback.value });
}

const recipientSchema = z.looseObject({
  emailAddress: z.string(),
  action: z.string().optional(),
  status: z.string().optional(),
  diagnosticCode: z.string().optional(),
});

const sesSchema = z.looseObject({
  notificationType: z.string().optional(),
  eventType: z.string().optional(),
  mail: z.looseObject({
    messageId: z.string().optional(),
    headers: z.array(z.object({ name: z.string(), value: z.string() })).optional(),
    commonHeaders: z.looseObject({ messageId: z.string().optional() }).optional(),
    tags: z.record(z.string(), z.array(z.string())).optional(),
  }),
  bounce: z
    .looseObject({
      bounceType: z.string(),
      bounceSubType: z.string().optional(),
      bouncedRecipients: z.array(recipientSchema),
      reportingMTA: z.string().optional(),
    })
    .optional(),
  complaint: z
    .looseObject({
      complainedRecipients: z.array(z.looseObject({ emailAddress: z.string() })),
      complaintFeedbackType: z.string().optional(),
      userAgent: z.string().optional(),
    })
    .optional(),
  delivery: z.looseObject({ recipients: z.array(z.string()), reportingMTA: z.string().optional() }).optional(),
  deliveryDelay: z
    .looseObject({
      delayType: z.string().optional(),
      delayedRecipients: z.array(recipientSchema),
      reportingMTA: z.string().optional(),
    })
    .optional(),
});

/**
 * The feedback in one SES notification (the SNS `Message`), either the identity notification
 * shape (`notificationType`) or the configuration-set event shape (`eventType`). Sends, opens,
 * clicks and other events give [].
 */
export function sesFeedback(notification: unknown): Result<Feedback[], InvalidPayloadError> {
  const parsed = sesSchema.safeParse(notification);
  if (!parsed.success) return fail(new InvalidPayloadError(`Not an SES notification: ${parsed.error.message}`));
  const event = parsed.data;
  const headers = event.mail.headers ?? [];
  // The SES adapter tags each send with mauntic_message_id; configuration-set events carry tags.
  const tagged = messageIdFromHeader(event.mail.tags?.mauntic_message_id?.[0]);
  const messageId =
    tagged ??
    ourMessageId({
      xMaunticMessage: headers.find((h) => h.name.toLowerCase() === 'x-mauntic-message')?.value,
      messageId:
        event.mail.commonHeaders?.messageId ?? headers.find((h) => h.name.toLowerCase() === 'message-id')?.value,
    });
  const type = event.notificationType ?? event.eventType;
  const address = (value: string) => normalizeAddress(value) ?? value.trim().toLowerCase();

  if (type === 'Bounce' && event.bounce) {
    const { bounce } = event;
    return ok(
      bounce.bouncedRecipients.map((r) =>
        compact({
          kind: 'bounce' as const,
          ...sesBounceClass(bounce, r),
          recipient: address(r.emailAddress),
          status: r.status,
          diagnostic: r.diagnosticCode ?? [bounce.bounceType, bounce.bounceSubType].filter(Boolean).join('/'),
          messageId,
          reportingMta: bounce.reportingMTA?.replace(/^[a-z-]+;\s*/i, ''),
        }),
      ),
    );
  }
  if (type === 'DeliveryDelay' && event.deliveryDelay) {
    const delay = event.deliveryDelay;
    return ok(
      delay.delayedRecipients.map((r) =>
        compact({
          kind: 'bounce' as const,
          bounceType: 'delayed' as const,
          reason: classifyBounce({ action: 'delayed', status: r.status, diagnostic: r.diagnosticCode }).reason,
          recipient: address(r.emailAddress),
          status: r.status,
          diagnostic: r.diagnosticCode ?? delay.delayType,
          messageId,
          reportingMta: delay.reportingMTA?.replace(/^[a-z-]+;\s*/i, ''),
        }),
      ),
    );
  }
  if (type === 'Complaint' && event.complaint) {
    const { complaint } = event;
    return ok(
      complaint.complainedRecipients.map((r) =>
        compact({
          kind: 'complaint' as const,
          recipient: address(r.emailAddress),
          feedbackType: complaint.complaintFeedbackType ?? 'other',
          messageId,
          userAgent: complaint.userAgent,
        }),
      ),
    );
  }
  if (type === 'Delivery' && event.delivery) {
    return ok(
      event.delivery.recipients.map((r) => compact({ kind: 'delivered' as const, recipient: address(r), messageId })),
    );
  }
  return ok([]);
}

// What SES's own bounce subtypes mean when the recipient's reply says nothing more.
const SES_SUBTYPE_REASONS: Record<string, BounceReason> = {
  NoEmail: 'user_unknown',
  // SES refused to send: the address bounced hard before, for this account or for any.
  Suppressed: 'user_unknown',
  OnAccountSuppressionList: 'user_unknown',
  MailboxFull: 'mailbox_full',
  MessageTooLarge: 'message_too_large',
  ContentRejected: 'content_spam_virus',
  AttachmentRejected: 'content_spam_virus',
};

/**
 * SES calls Permanent every 5xx reply, a DMARC or block-list refusal too; the reply decides the
 * reason, and only a Permanent bounce for a dead address is hard. Transient and Undetermined never are.
 */
function sesBounceClass(
  bounce: { bounceType: string; bounceSubType?: string | undefined },
  recipient: { status?: string | undefined; diagnosticCode?: string | undefined },
): { bounceType: BounceType; reason: BounceReason } {
  const classified = classifyBounce({
    action: 'failed',
    status: recipient.status,
    diagnostic: recipient.diagnosticCode,
  });
  const reason =
    classified.reason === 'unknown'
      ? (SES_SUBTYPE_REASONS[bounce.bounceSubType ?? ''] ?? 'unknown')
      : classified.reason;
  const hard = bounce.bounceType === 'Permanent' && suppressesAddress(reason) && classified.bounceType !== 'soft';
  return { bounceType: hard ? 'hard' : 'soft', reason };
}

/**
 * A notification that reached us as mail: an SNS topic with an email or email-json subscription
 * sends the SNS envelope or the SES notification itself as the body. Returns undefined for other
 * mail. Nothing here is signed; the use cases apply such reports only to messages they name by our id.
 */
export function sesNotificationMail(message: MimePart): Feedback[] | undefined {
  if (!/@sns\.amazonaws\.com>?\s*$/i.test(header(message, 'from') ?? '')) return undefined;
  // The notification, without the unsubscribe footer SNS adds after a "--" line.
  const body = bodyText(message)
    .split(/\r?\n--\r?\n/)[0]!
    .trim();
  const envelope = parseLongLines(body);
  const inner =
    isRecord(envelope) && envelope.Type === 'Notification' && typeof envelope.Message === 'string'
      ? parseLongLines(envelope.Message)
      : envelope;
  const feedback = inner === undefined ? undefined : sesFeedback(inner);
  return feedback?.ok ? feedback.value : undefined;
}

/** JSON, where a relaying Sendmail may have split lines longer than 990 characters with "!" + newline + space. */
function parseLongLines(text: string): unknown {
  const parsed = parseJson(Buffer.from(text, 'utf8'));
  if (parsed.ok) return parsed.value;
  const rejoined = parseJson(Buffer.from(text.replace(/!\r?\n /g, ''), 'utf8'));
  return rejoined.ok ? rejoined.value : undefined;
}

/** A fetchCertificate that keeps each certificate in memory after its first download. */
export function cachedCertificateFetcher(
  download: (url: string) => Promise<string> = async (url) => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
    return response.text();
  },
): (url: string) => Promise<string> {
  const cache = new Map<string, Promise<string>>();
  return (url) => {
    let pem = cache.get(url);
    if (!pem) {
      pem = download(url);
      pem.catch(() => cache.delete(url));
      cache.set(url, pem);
    }
    return pem;
  };
}
