// Public API of the provider adapters (`@mauntic/delivery/providers`).
export * from './crypto';
export { errorFromStatus } from './errors';
export { withFailover } from './failover';
export { createFcmProvider, type FcmOptions } from './fcm';
export { createLocalOutboxProvider, type OutboxStore } from './local-outbox';
export { createMailgunProvider, type MailgunOptions } from './mailgun';
export { buildRawMessage, messageIdHeader, toMime } from './mime';
export { createPlivoProvider, type PlivoOptions } from './plivo';
export * from './rate-limit';
export * from './registry';
export { createSendgridProvider, type SendgridOptions } from './sendgrid';
export { createSesProvider, type SesOptions } from './ses';
export { createSmtpProvider, type SmtpOptions } from './smtp';
export { createTwilioProvider, type TwilioOptions } from './twilio';
export * from './types';
export { createWebhookProvider, SIGNATURE_HEADER, signWebhook, type WebhookOptions } from './webhook';
