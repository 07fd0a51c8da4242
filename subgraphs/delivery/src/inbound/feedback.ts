// The normalized outcome of everything the delivery subgraph hears back about a message:
// bounces, complaints, deliveries and unsubscribes, whatever channel or provider they came from.

export type BounceType = 'hard' | 'soft' | 'delayed';

export interface BounceFeedback {
  kind: 'bounce';
  bounceType: BounceType;
  /** Lower-cased email address, or the E.164 number for SMS. */
  recipient: string;
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

// Not inside a dotted IP address: no digit or dot before, no (dot and) digit after.
const ENHANCED_STATUS = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)/;

/** The first enhanced status code in a text (`550 5.1.1 ...` → `5.1.1`). */
export function findEnhancedStatus(text: string | undefined): string | undefined {
  const match = text?.match(ENHANCED_STATUS);
  return match ? `${match[1]}.${match[2]}.${match[3]}` : undefined;
}

/** The first basic SMTP reply code (`550`, `452`) in a text. */
export function findSmtpCode(text: string | undefined): string | undefined {
  return text?.match(/(?:^|[\s:;(#])([45][0-5]\d)(?=[\s-]|$)/m)?.[1];
}

// Permanent codes that still say nothing against the address itself: a full mailbox, a message
// too large, a block of our sending IP or content. Suppressing on those would drop good contacts.
const SOFT_PHRASES =
  /mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:the )?(?:storage|quota)|insufficient (?:system )?storage|mailbox size limit|message (?:is )?too (?:big|large)|too many (?:messages|connections)|try again later|temporar|rate limit|spamhaus|block ?list|black ?list|\brbl\b|ip reputation|poor reputation|listed (?:at|on|in)\b|spam content|content rejected|message (?:was )?(?:rejected|blocked) as spam|greylist/i;

const HARD_PHRASES =
  /user unknown|unknown user|no such (?:user|mailbox|recipient|address)|(?:mailbox|account|address|recipient|user) (?:does not|doesn't) exist|does not exist|(?:mailbox|address) (?:is )?(?:unavailable|not found|invalid)|recipient (?:address )?rejected|invalid (?:recipient|mailbox|address)|recipient not found|unknown (?:recipient|mailbox|address)|account (?:has been )?(?:disabled|deactivated|closed|suspended)|unrouteable address|no mailbox here|not our customer|address not found|mailbox not found|unknown local part|host or domain name not found|domain (?:does not|doesn't) exist|permanent (?:error|failure)/i;

const DELAY_PHRASES =
  /(?:has|have) been delayed|delivery (?:has been )?delayed|not (?:yet )?been delivered|will (?:continue|keep) (?:trying|to try)|still trying|will retry|delivery (?:status notification )?\(delay\)|warning: message .* delayed|temporarily deferred/i;

/**
 * Hard, soft or delayed from what a report says. The enhanced status wins, then the basic SMTP
 * code, then the wording; text that says nothing certain is soft, never hard.
 */
export function classifyBounce(input: {
  action?: string | undefined;
  status?: string | undefined;
  diagnostic?: string | undefined;
}): BounceType {
  const action = input.action?.trim().toLowerCase();
  if (action === 'delayed') return 'delayed';
  const diagnostic = input.diagnostic ?? '';
  const klass = input.status?.[0] ?? findEnhancedStatus(diagnostic)?.[0] ?? findSmtpCode(diagnostic)?.[0];
  const status = input.status ?? findEnhancedStatus(diagnostic);
  if (klass === '4') return action === 'failed' || !DELAY_PHRASES.test(diagnostic) ? 'soft' : 'delayed';
  if (klass === '5') {
    // X.2.2 mailbox full and X.3.4 too large are per-message conditions.
    if (status && /^5\.(2\.2|3\.4)$/.test(status)) return 'soft';
    if (SOFT_PHRASES.test(diagnostic) && !HARD_PHRASES.test(diagnostic)) return 'soft';
    return 'hard';
  }
  if (action !== 'failed' && DELAY_PHRASES.test(diagnostic)) return 'delayed';
  if (SOFT_PHRASES.test(diagnostic)) return 'soft';
  if (HARD_PHRASES.test(diagnostic)) return 'hard';
  return 'soft';
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
