// The normalized outcome of everything the delivery subgraph hears back about a message:
// bounces, complaints, deliveries and unsubscribes, whatever channel or provider they came from.
import type { BounceReason, BounceType } from '../domain/bounce.ts';

export type { BounceReason, BounceType } from '../domain/bounce.ts';

export interface BounceFeedback {
  kind: 'bounce';
  /** hard only for a dead address (see domain/bounce.ts): hard means suppress, soft and delayed do not. */
  bounceType: BounceType;
  /**
   * Why it failed. Every parser here sets it; optional so that feedback built elsewhere keeps
   * type-checking, where absent reads as `unknown`.
   */
  reason?: BounceReason;
  /**
   * Lower-cased email address, or the E.164 number for SMS. Absent only when the bounce names no
   * address but names our message (its VERP return path): we send one message per recipient.
   */
  recipient?: string;
  /** Enhanced status code (`5.1.1`) or the provider's error code. */
  status?: string;
  diagnostic?: string;
  /** Our message id (a UUID), when the report lets us recover it. */
  messageId?: string;
  reportingMta?: string;
}

export interface ComplaintFeedback {
  kind: 'complaint';
  /**
   * Absent only when the reporter redacted it (AOL, Microsoft JMRP do); `messageId` is then set
   * and identifies the send and its recipient. Complaints with neither are not emitted.
   */
  recipient?: string;
  /** ARF Feedback-Type: abuse, fraud, virus, other, ... */
  feedbackType: string;
  messageId?: string;
  userAgent?: string;
}

export interface DeliveredFeedback {
  kind: 'delivered';
  recipient: string;
  messageId?: string;
}

export interface UnsubscribeFeedback {
  kind: 'unsubscribe';
  recipient: string;
  messageId?: string;
}

export type Feedback = BounceFeedback | ComplaintFeedback | DeliveredFeedback | UnsubscribeFeedback;

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
const UUID_ONLY = new RegExp(`^${UUID.source}$`, 'i');

/** The X-Mauntic-Message header value, when it is one of our ids. */
export function messageIdFromHeader(value: string | undefined): string | undefined {
  const trimmed = value?.trim().replace(/^<|>$/g, '');
  return trimmed && UUID_ONLY.test(trimmed) ? trimmed.toLowerCase() : undefined;
}

/** Our id from a Message-ID we generated: `<uuid@host>`. Other senders' ids give undefined. */
export function messageIdFromMessageId(value: string | undefined): string | undefined {
  const match = value?.trim().match(new RegExp(`^<?(${UUID.source})@[^>\\s]+>?$`, 'i'));
  return match?.[1]?.toLowerCase();
}

/** Either source, X-Mauntic-Message first: it survives providers that rewrite Message-ID. */
export function ourMessageId(headers: {
  xMaunticMessage?: string | undefined;
  messageId?: string | undefined;
}): string | undefined {
  return messageIdFromHeader(headers.xMaunticMessage) ?? messageIdFromMessageId(headers.messageId);
}

/** A UUID carried in a VERP return path, e.g. `bounces+<uuid>@mail.example.com`. */
export function messageIdFromVerp(address: string | undefined): string | undefined {
  const local = address?.split('@')[0];
  const match = local?.match(new RegExp(`[+=._-](${UUID.source})$`, 'i'));
  return match?.[1]?.toLowerCase();
}

/** `rfc822; <User@Example.COM>` or `<user@example.com>` → `user@example.com`. */
export function normalizeAddress(value: string | undefined): string | undefined {
  // No real address comes near this; the cap keeps the patterns below cheap on hostile input.
  if (!value || value.length > 1000) return undefined;
  const semicolon = value.indexOf(';');
  let address = (semicolon >= 0 ? value.slice(semicolon + 1) : value).trim();
  const angle = address.match(/<([^>]*)>/);
  if (angle) address = angle[1]!.trim();
  address = address.replace(/^["']|["']$/g, '').trim();
  if (!/^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/.test(address)) return undefined;
  return address.toLowerCase();
}

/**
 * Collapses whitespace and the reply codes repeated on each line of a multi-line SMTP reply
 * (`550-5.1.1 ... 550-5.1.1 ...`), and caps the length, so diagnostics read as one line.
 */
export function cleanDiagnostic(value: string | undefined, max = 1000): string | undefined {
  let cleaned = value?.replace(/\s+/g, ' ').trim();
  const lead = cleaned?.match(/^([245]\d\d)-(?:([245]\.\d{1,3}\.\d{1,3}) )?/);
  if (cleaned && lead) {
    const repeat = new RegExp(` ${lead[1]}[- ]${lead[2] ? `${lead[2].replace(/\./g, '\\.')} ` : ''}`, 'g');
    cleaned = `${lead[1]} ${cleaned.slice(lead[1]!.length + 1).replace(repeat, ' ')}`.replace(/\s+/g, ' ');
  }
  if (!cleaned) return undefined;
  return cleaned.length > max ? `${cleaned.slice(0, max - 1)}…` : cleaned;
}

/** Drops undefined fields so results compare and serialize cleanly. */
export function compact<T extends Feedback>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
