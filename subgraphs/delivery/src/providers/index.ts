// Public API of the provider adapters (`@mauntic/delivery/providers`).
export * from './crypto.ts';
export { errorFromStatus } from './errors.ts';
export { withFailover } from './failover.ts';
export { createFcmProvider, type FcmOptions } from './fcm.ts';
export { createLocalOutboxProvider, type OutboxStore } from './local-outbox.ts';
export { createMailgunProvider, type MailgunOptions } from './mailgun.ts';
export { buildRawMessage, messageIdHeader, toMime } from './mime.ts';
export { createPlivoProvider, type PlivoOptions } from './plivo.ts';
export { createPostfixProvider, type PostfixInstance } from './postfix.ts';
export * from './rate-limit.ts';
export * from './registry.ts';
export { createSendgridProvider, type SendgridOptions } from './sendgrid.ts';
export { createSesProvider, type SesOptions } from './ses.ts';
export { createSmtpProvider, type SmtpOptions } from './smtp.ts';
export { createTwilioProvider, type TwilioOptions } from './twilio.ts';
export * from './types.ts';
export { createWebhookProvider, SIGNATURE_HEADER, signWebhook, type WebhookOptions } from './webhook.ts';
