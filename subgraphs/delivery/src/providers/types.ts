// The contract every provider adapter implements. The engine hands an adapter a fully rendered
// message; the adapter sends it and returns the provider's id, or throws a ProviderError that says
// whether trying again (later, or on the failover provider) can help.

export type Channel = 'email' | 'sms' | 'push' | 'webhook';

export type ProviderKind =
  | 'smtp'
  | 'ses'
  | 'sendgrid'
  | 'mailgun'
  | 'local_outbox'
  | 'postfix'
  | 'twilio'
  | 'plivo'
  | 'fcm'
  | 'webhook';

export const CHANNEL_OF: Record<ProviderKind, Channel> = {
  smtp: 'email',
  ses: 'email',
  sendgrid: 'email',
  mailgun: 'email',
  local_outbox: 'email',
  postfix: 'email',
  twilio: 'sms',
  plivo: 'sms',
  fcm: 'push',
  webhook: 'webhook',
};

export interface EmailMessage {
  /** Our message id (UUID); also used in the Message-ID header. */
  messageId: string;
  from: { name?: string; address: string };
  replyTo?: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  /** Extra headers, e.g. List-Unsubscribe, List-Unsubscribe-Post, X-Mauntic-Message. */
  headers: Record<string, string>;
  /** Optional pre-built RFC 5322 message; adapters that can send raw MIME use it as is. */
  raw?: Buffer;
  /** Envelope sender (Return-Path) for bounces, e.g. a VERP address; `from.address` when absent. */
  envelopeFrom?: string;
  /** The local address to send from (a pool IP); the system's choice when absent. SMTP adapters bind it. */
  localAddress?: string;
}

export interface SmsMessage {
  messageId: string;
  /** E.164 */
  to: string;
  /** Sender id or E.164 number; the provider's default when absent. */
  from?: string;
  body: string;
  /** Where the provider should post status callbacks. */
  statusCallbackUrl?: string;
}

export interface PushMessage {
  messageId: string;
  /** Device registration token. */
  token: string;
  title: string;
  body: string;
  data: Record<string, string>;
  imageUrl?: string;
}

export interface WebhookMessage {
  messageId: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

export type OutboundMessage =
  | ({ channel: 'email' } & EmailMessage)
  | ({ channel: 'sms' } & SmsMessage)
  | ({ channel: 'push' } & PushMessage)
  | ({ channel: 'webhook' } & WebhookMessage);

export interface SendResult {
  /** The provider's own id for the message, when it gives one. */
  providerMessageId: string | null;
  /** Set by `withFailover` when the secondary provider sent the message. */
  failedOver?: boolean;
}

/**
 * A failed send. `retryable` is true for transient faults (timeouts, 4xx SMTP replies, HTTP 429
 * and 5xx): trying later or on the failover provider may succeed. `permanent` rejections of the
 * recipient (SMTP 5xx on RCPT, invalid number) are not retried and not failed over.
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ProviderError';
  }
}

export interface SendOptions {
  /**
   * Called at most once, right before the message goes to the provider's transport (after any
   * rate-limit wait). From then on a failure may hide a delivered message: the caller can record
   * the hand-over first so a crash is never mistaken for "not sent".
   */
  onHandedOver?: () => void;
}

export interface Provider<M = OutboundMessage> {
  readonly kind: ProviderKind;
  send(message: M, options?: SendOptions): Promise<SendResult>;
  /** Releases pooled connections. */
  close(): Promise<void>;
}
