// Why a delivery failed, read from what the receiving side said: the enhanced status code
// (RFC 3463 class.subject.detail), the SMTP reply code, the diagnostic wording and the DSN Action;
// and what each reason means for the address and for us. Pure rules: the parsers in inbound/
// gather the evidence, the use cases apply the outcome.
//
// Only a dead address is suppressed. Most permanent (5.x.x) replies are not about the address at
// all: a DMARC failure, a block-listed IP, a rate limit or a content filter refuses every
// recipient of a domain alike, and suppressing on them would empty a list because of one
// misconfigured sender. Those count against the sending domain and IP instead.
import { reasonFromWording, type SmtpCommand, smtpCommand } from './bounce-wording.ts';

/** The closed list of bounce reasons. */
export const BOUNCE_REASONS = [
  // The address cannot receive mail.
  'user_unknown',
  /** Disabled, suspended, inactive or moved without a forwarding address (X.2.1, X.1.6). */
  'mailbox_disabled',
  /** The domain does not exist, has no (or a null) MX, or does not accept mail. */
  'host_unknown',
  // The recipient's side, for now.
  'mailbox_full',
  /** Retries ran out without a more telling cause. */
  'expired',
  'network',
  /** The receiving system failed: configuration, storage, loops. */
  'system_error',
  /** A recipient-side rule refused it (recipient preferences, group restrictions, rejected at DATA). */
  'filtered',
  // Ours: the sender, its domain, its IP or its message.
  /** SPF, DKIM, DMARC, reverse DNS (PTR), required TLS, SMTP AUTH. */
  'policy_authentication',
  'blocklisted_reputation',
  'rate_limited',
  /** MAIL FROM refused: sender address or domain invalid, unverifiable, or refused as such. */
  'sender_rejected',
  'relaying_denied',
  'content_spam_virus',
  'message_too_large',
  // Not a failure.
  /** Action delivered / relayed / expanded / deliverable. */
  'delivered',
  'unknown',
] as const;
export type BounceReason = (typeof BOUNCE_REASONS)[number];

/** What delivery does about a reason. */
export type BounceEffect =
  /** The address is dead: suppress it. */
  | 'dead_address'
  /** Caused by the sender: count it against the sending domain and IP; never suppress the recipient. */
  | 'sender'
  /** The recipient's side, temporary or undecided: retry while attempts remain, never suppress on it. */
  | 'transient'
  /** Not a failure. */
  | 'none';

export const BOUNCE_EFFECTS: Record<BounceReason, BounceEffect> = {
  user_unknown: 'dead_address',
  mailbox_disabled: 'dead_address',
  host_unknown: 'dead_address',
  mailbox_full: 'transient',
  expired: 'transient',
  network: 'transient',
  system_error: 'transient',
  filtered: 'transient',
  unknown: 'transient',
  policy_authentication: 'sender',
  blocklisted_reputation: 'sender',
  rate_limited: 'sender',
  sender_rejected: 'sender',
  relaying_denied: 'sender',
  content_spam_virus: 'sender',
  message_too_large: 'sender',
  delivered: 'none',
};

export const suppressesAddress = (reason: BounceReason) => BOUNCE_EFFECTS[reason] === 'dead_address';
export const countsAgainstSender = (reason: BounceReason) => BOUNCE_EFFECTS[reason] === 'sender';

/**
 * hard: suppress the address (a dead-address reason in a permanent reply); soft: a final failure
 * that says nothing against the address; delayed: still being retried, nothing to do yet.
 */
export type BounceType = 'hard' | 'soft' | 'delayed';

export interface BounceEvidence {
  /** DSN Action (failed, delayed, delivered, ...). Parsers of other formats pass `failed` for a final report. */
  action?: string | undefined;
  /** DSN Status field. Often only `5.0.0`; the diagnostic may hold a better code. */
  status?: string | undefined;
  /** The remote server's reply (Diagnostic-Code) or the bouncing MTA's own words about this recipient. */
  diagnostic?: string | undefined;
  /** Other text about this recipient (the human-readable part), read when the diagnostic says nothing. */
  context?: string | undefined;
}

export interface BounceClassification {
  reason: BounceReason;
  bounceType: BounceType;
  /** The enhanced status code the reason rests on, when the report has one. */
  status?: string;
}

interface StatusCode {
  code: string;
  klass: string;
  subject: number;
  detail: number;
}

// Not inside a dotted IP address or a version: no digit or dot before, no (dot and) digit after.
const ENHANCED_STATUS = /(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)/g;

function statusCodes(text: string): StatusCode[] {
  return [...text.matchAll(ENHANCED_STATUS)].map((m) => ({
    code: `${m[1]}.${m[2]}.${m[3]}`,
    klass: m[1]!,
    subject: Number(m[2]),
    detail: Number(m[3]),
  }));
}

/** The first enhanced status code in a text (`550 5.1.1 ...` → `5.1.1`). */
export function findEnhancedStatus(text: string | undefined): string | undefined {
  return text ? statusCodes(text)[0]?.code : undefined;
}

/** The first basic SMTP reply code (`550`, `452`) in a text. */
export function findSmtpCode(text: string | undefined): string | undefined {
  return text?.match(/(?:^|[\s:;(#])([45][0-5]\d)(?=[\s:-]|$)/m)?.[1];
}

/**
 * The reason a code means by itself (RFC 3463, RFC 7372 and RFC 7505 details, and the vendor
 * details Microsoft documents). `strong` codes name a cause; weak ones (X.0.0, 5.7.1 "delivery
 * not authorized", most network and protocol codes) only give a direction and lose to wording.
 */
function codeReason(status: StatusCode): { reason: BounceReason; strong: boolean } {
  const meaning = codeMeaning(status);
  // A temporary reply cannot declare an address dead, whatever its subject (La Poste answers
  // "421 4.2.1 service refused"): by itself it only says "later".
  if (status.klass !== '5' && BOUNCE_EFFECTS[meaning.reason] === 'dead_address')
    return { reason: 'unknown', strong: false };
  return meaning;
}

function codeMeaning({ klass, subject, detail }: StatusCode): { reason: BounceReason; strong: boolean } {
  const permanent = klass === '5';
  const strong = (reason: BounceReason) => ({ reason, strong: true });
  const weak = (reason: BounceReason) => ({ reason, strong: false });
  switch (subject) {
    case 1:
      // X.1.10 is "null MX" in RFC 7505 and "recipient not found" at Microsoft: dead either way.
      if (detail === 1 || detail === 3 || detail === 10) return strong('user_unknown');
      if (detail === 2) return strong('host_unknown');
      if (detail === 6) return strong('mailbox_disabled');
      if (detail === 7 || detail === 8) return strong('sender_rejected');
      return weak('unknown');
    case 2:
      if (detail === 1) return strong('mailbox_disabled');
      if (detail === 2) return strong('mailbox_full');
      if (detail === 3) return strong('message_too_large');
      return weak('unknown');
    case 3:
      if (detail === 4) return strong('message_too_large');
      return weak('system_error');
    case 4:
      if (detail === 7) return strong('expired');
      // Unable to route, and Microsoft's DNS failures (5.4.310 domain does not exist, 5.4.312):
      // permanent they are a domain that cannot receive, temporary a lookup that may succeed later.
      if (detail === 4 || detail === 310 || detail === 312) return permanent ? strong('host_unknown') : weak('network');
      return weak('network');
    case 5:
      return weak('unknown');
    case 6:
      return strong('content_spam_virus');
    case 7:
      return securityCodeReason(detail);
    default:
      return weak('unknown');
  }
}

function securityCodeReason(detail: number): { reason: BounceReason; strong: boolean } {
  // 7.8-7.12 SMTP AUTH and TLS, 7.20-7.26 DKIM/SPF/reverse DNS (RFC 7372), 7.29-7.30 ARC and
  // REQUIRETLS, Microsoft's 7.509/7.510 DMARC and 7.57 client not authenticated.
  if ((detail >= 8 && detail <= 12) || (detail >= 20 && detail <= 26) || detail === 29 || detail === 30) {
    return { reason: 'policy_authentication', strong: true };
  }
  if (detail === 509 || detail === 510 || detail === 57) return { reason: 'policy_authentication', strong: true };
  // RFC 7505: the sender's domain has a null MX.
  if (detail === 27) return { reason: 'sender_rejected', strong: true };
  if (detail === 28) return { reason: 'rate_limited', strong: true };
  // Microsoft: 7.606-7.649 banned sending IP, 7.650 IP reputation, 7.750 unregistered domain.
  if ((detail >= 606 && detail <= 650) || detail === 750) return { reason: 'blocklisted_reputation', strong: true };
  // Microsoft: 7.54 and 7.64 relay refused for a domain the tenant does not accept.
  if (detail === 54 || detail === 64) return { reason: 'relaying_denied', strong: true };
  // 7.13 is SMTP AUTH's "user account disabled", which some MTAs reply for a disabled recipient.
  if (detail === 13) return { reason: 'mailbox_disabled', strong: true };
  // 7.2 list expansion refused, Microsoft's 7.124-7.134 group restrictions.
  if (detail === 2 || (detail >= 124 && detail <= 134)) return { reason: 'filtered', strong: true };
  // 7.0 / 7.1 "delivery not authorized" carry every kind of policy refusal.
  return { reason: 'filtered', strong: false };
}

const REPLY_REASONS: Record<string, BounceReason> = {
  // RFC 5321: exceeded storage allocation. RFC 7504: domain does not accept mail.
  '552': 'mailbox_full',
  '556': 'host_unknown',
};

const DELIVERED_ACTIONS = new Set(['delivered', 'relayed', 'expanded', 'deliverable']);

const DELAY_PHRASES =
  /(?:has|have) been delayed|delivery (?:has been )?delayed|not (?:yet )?been delivered|will (?:continue|keep) (?:trying|to try)|still trying|will retry|will be retried|delivery (?:status notification )?\(delay\)|warning: message .* delayed|temporarily deferred/i;

/**
 * The reason a report gives for one recipient, and whether it suppresses the address. Evidence is
 * read from the most to the least telling: the diagnostic's wording, a code that names a cause,
 * the rest of the report's text, a code that only gives a direction, the bare reply code. The SMTP
 * command the reply answered then corrects it: nothing said before RCPT TO is about the recipient,
 * and a "user unknown" at DATA, after the server accepted the recipient, is a filter.
 */
export function classifyBounce(evidence: BounceEvidence): BounceClassification {
  const action = evidence.action?.trim().toLowerCase();
  const diagnostic = evidence.diagnostic ?? '';
  const context = evidence.context ?? '';
  const statusField = statusCodes(evidence.status ?? '')[0];
  if ((action && DELIVERED_ACTIONS.has(action)) || (!action && statusField?.klass === '2')) {
    return withStatus({ reason: 'delivered', bounceType: 'soft' }, statusField?.code);
  }
  // Transcripts quote the 2.x.x replies that went well; only failure codes count.
  const codes = [...(statusField ? [statusField] : []), ...statusCodes(diagnostic)].filter((c) => c.klass !== '2');
  const contextCodes = codes.length ? [] : statusCodes(context).filter((c) => c.klass !== '2');
  const candidates = [...codes, ...contextCodes];
  const strongCode = candidates.find((c) => codeReason(c).strong && !isGeneric(c));
  const weakCode = candidates[0];

  // The Status field may carry a comment ("4.0.0 (host name lookup failure)").
  let reason =
    reasonFromWording(`${evidence.status ?? ''} ${diagnostic}`) ??
    (strongCode && codeReason(strongCode).reason) ??
    reasonFromWording(context) ??
    (weakCode && codeReason(weakCode).reason) ??
    REPLY_REASONS[findSmtpCode(diagnostic) ?? findSmtpCode(context) ?? ''] ??
    'unknown';
  reason = correctForCommand(reason, smtpCommand(`${diagnostic}\n${context}`), codes);

  const chosen = candidates.find((c) => codeReason(c).reason === reason) ?? strongCode ?? weakCode;
  const klass = chosen?.klass ?? (findSmtpCode(diagnostic) ?? findSmtpCode(context))?.[0];
  if (action === 'failed' && klass === '4' && (reason === 'unknown' || reason === 'network')) {
    // A temporary reply that ended the delivery: the MTA retried until it gave up.
    reason = 'expired';
  }
  return withStatus(
    { reason, bounceType: bounceTypeOf(reason, klass, action, `${diagnostic}\n${context}`) },
    chosen?.code,
  );
}

const isGeneric = (c: StatusCode) => c.subject === 0 && c.detail === 0;

function correctForCommand(reason: BounceReason, command: SmtpCommand | undefined, codes: StatusCode[]): BounceReason {
  const aboutRecipient = BOUNCE_EFFECTS[reason] === 'dead_address' || reason === 'filtered' || reason === 'unknown';
  if (!aboutRecipient) return reason;
  // Refused before any recipient was named: at the greeting it is our IP, at MAIL FROM our sender.
  if (command === 'connect') return 'blocklisted_reputation';
  if (command === 'mail') return 'sender_rejected';
  if (reason !== 'user_unknown') return reason;
  // The server took the recipient at RCPT TO, so "user unknown" after DATA is a filter talking.
  if (command === 'data') return 'filtered';
  // X.7.x says the refusal was policy ("delivery not authorized ... per-recipient filtering"):
  // wording that claims an unknown user is believed only when the reply answered RCPT TO.
  if (command !== 'rcpt' && codes.some((c) => c.subject === 7)) return 'filtered';
  return reason;
}

function bounceTypeOf(
  reason: BounceReason,
  klass: string | undefined,
  action: string | undefined,
  text: string,
): BounceType {
  if (action === 'delayed') return 'delayed';
  // A temporary reply is delayed unless the report says delivery stopped.
  if (klass === '4') return action === 'failed' || !DELAY_PHRASES.test(text) ? 'soft' : 'delayed';
  if (!klass && action !== 'failed' && DELAY_PHRASES.test(text)) return 'delayed';
  return suppressesAddress(reason) ? 'hard' : 'soft';
}

function withStatus(result: Omit<BounceClassification, 'status'>, status: string | undefined): BounceClassification {
  return status ? { ...result, status } : result;
}
