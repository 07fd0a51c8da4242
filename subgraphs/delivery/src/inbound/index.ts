// Bounces, complaints and delivery reports: parsers for DSN and ARF mail, the SMTP/LMTP endpoint
// that receives them, and provider webhook parsers. Everything yields normalized Feedback values.

export {
  InvalidPayloadError,
  InvalidSignatureError,
  StaleWebhookError,
  UntrustedSenderError,
  type WebhookError,
} from '../domain/errors.ts';
export { isFeedbackReport, parseArf } from './arf.ts';
export { type BounceOutcome, isDeliveryStatusReport, parseDsn, type ReportContext } from './dsn.ts';
export type {
  BounceFeedback,
  BounceReason,
  BounceType,
  ComplaintFeedback,
  DeliveredFeedback,
  Feedback,
  UnsubscribeFeedback,
} from './feedback.ts';
export {
  type InboundEnvelope,
  type InboundLogger,
  type InboundServer,
  type InboundServerOptions,
  startInboundServer,
} from './inbound-server.ts';
export { type MailgunWebhookOptions, parseMailgunWebhook } from './mailgun.ts';
export { isAutoReply, looksLikeBounce, parseNonStandardBounce } from './non-standard-bounce.ts';
export { type InboundMessageKind, type InboundMessageResult, parseInboundMessage } from './parse-inbound.ts';
export { parseSendgridWebhook, type SendgridWebhookOptions } from './sendgrid.ts';
export {
  cachedCertificateFetcher,
  DEFAULT_SNS_CERTIFICATE_HOST,
  parseSnsWebhook,
  type SnsWebhookOptions,
  type SnsWebhookResult,
  sesFeedback,
} from './ses-sns.ts';
export { parseTwilioWebhook, type TwilioWebhookOptions } from './twilio.ts';
export type { WebhookRequest } from './webhook-request.ts';
