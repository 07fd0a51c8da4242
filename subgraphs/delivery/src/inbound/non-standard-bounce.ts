// Bounces without a delivery-status part: the plain-text reports qmail, classic Exim, Sendmail v5,
// Exchange 2003, Domino, Courier, IMail and many providers still send, read with a cautious
// heuristic: which addresses failed, and what was said about each.
import { classifyBounce, findEnhancedStatus, findSmtpCode } from '../domain/bounce.ts';
import {
  type BounceOutcome,
  deliveryStatusOutcomes,
  isMimePart,
  type ReportContext,
  recipientSegments,
  recoverMessageId,
  reportText,
  returnedRecipient,
} from './dsn.ts';
import { cleanDiagnostic, compact, normalizeAddress } from './feedback.ts';
import { header, type MimePart, parseMime } from './mime.ts';

const DAEMON_SENDER =
  /^(?:mailer-daemon|postmaster|post_master|mail-daemon|maildaemon|mdaemon|bounces?|double-bounce)@/i;
const DAEMON_NAME = /mail delivery (?:system|subsystem|service)|mailer-daemon|postmaster/i;
const BOUNCE_SUBJECT =
  /undeliver|undelivered mail|delivery status notification|mail delivery (?:failed|failure|system)|returned mail|failure notice|delivery failure|non-?delivery|could not be delivered|delivery has failed|message not delivered|delivery (?:notification|problem)|warning: message .* delayed|delayed mail|mail could not be delivered/i;
const AUTO_REPLY_SUBJECT =
  /^\s*(?:auto(?:matic)?[ -]?(?:reply|response|antwort)|out of (?:the )?office|abwesenheit|vacation|away from|r[ée]ponse automatique|autoreply)/i;

/** True for out-of-office and other auto-responders, which say nothing about deliverability. */
export function isAutoReply(message: MimePart): boolean {
  const subject = header(message, 'subject') ?? '';
  const precedence = header(message, 'precedence')?.toLowerCase();
  return (
    AUTO_REPLY_SUBJECT.test(subject) ||
    header(message, 'x-autoreply') !== undefined ||
    header(message, 'x-autorespond') !== undefined ||
    precedence === 'auto_reply' ||
    (header(message, 'auto-submitted')?.toLowerCase().startsWith('auto-replied') === true && !fromDaemon(message))
  );
}

function fromDaemon(message: MimePart): boolean {
  const from = header(message, 'from') ?? '';
  return DAEMON_SENDER.test(normalizeAddress(from) ?? '') || DAEMON_NAME.test(from);
}

/** Looks like a bounce even though it carries no delivery-status part. */
export function looksLikeBounce(message: MimePart): boolean {
  if (isAutoReply(message)) return false;
  return (
    header(message, 'x-failed-recipients') !== undefined ||
    fromDaemon(message) ||
    BOUNCE_SUBJECT.test(header(message, 'subject') ?? '')
  );
}

// Amazon WorkMail and Oracle Messaging Server write the delivery-status fields into their text.
const STATUS_FIELDS = /^[ \t]*final-recipient[ \t]*:/im;

/**
 * Recipients of a bounce that has no delivery-status part, each with the reason read from the SMTP
 * codes and wording of the text. Returns [] for anything that does not look like a bounce.
 */
export function parseNonStandardBounce(
  input: Buffer | string | MimePart,
  context: ReportContext = {},
): BounceOutcome[] {
  const message = isMimePart(input) ? input : parseMime(input);
  if (!looksLikeBounce(message)) return [];
  const { prose, quoted } = reportText(message);
  const messageId = recoverMessageId(message, context, quoted);
  if (STATUS_FIELDS.test(prose)) {
    const outcomes = deliveryStatusOutcomes(prose, { prose, messageId, fallbackRecipient: returnedRecipient(message) });
    if (outcomes.length) return outcomes;
  }
  // A bounce that names no address still names our message when it came back to its VERP
  // return path: the message tells whom it went to.
  const named = failedRecipients(message, prose, context);
  const recipients: (string | undefined)[] = named.length || !messageId ? named : [undefined];
  const delayed = DELAY_MESSAGE.test(header(message, 'subject') ?? '') || DELAY_MESSAGE.test(prose);
  const reportingMta = prose.match(
    /(?:qmail-send program at|mail server at|reporting[- ]mta:?)\s+([A-Za-z0-9.-]+[A-Za-z0-9])/i,
  )?.[1];
  const segmentOf = recipientSegments(prose, named);
  return recipients.map((recipient) => {
    const segment = recipient ? segmentOf(recipient) : prose;
    const classified = classifyBounce({
      action: delayed ? 'delayed' : 'failed',
      diagnostic: segment,
      // The rest of the text speaks for every recipient only when there is one.
      context: recipients.length === 1 ? prose : undefined,
    });
    return compact({
      kind: 'bounce' as const,
      bounceType: classified.bounceType,
      reason: classified.reason,
      recipient,
      status: classified.status,
      diagnostic: cleanDiagnostic(diagnosticLine(segment) ?? diagnosticLine(prose) ?? segment, 500),
      messageId,
      reportingMta,
    });
  });
}

const DELAY_MESSAGE =
  /delayed|not (?:yet )?been delivered|will (?:continue|keep) (?:trying|to try)|still trying|delivery attempts will continue/i;

// Lines of the returned message's header quoted in the text (Exchange's "Your message To: ...",
// a Message-ID, a transcript's "FROM:<...>") name the message or its sender, not a failed recipient.
const QUOTED_HEADER_LINE =
  /^[ \t]*(?:to|from|cc|bcc|reply-to|sender|return-path|message-id|in-reply-to|references|subject|date|sent|delivered-to|envelope-to|x-[a-z0-9-]+)[ \t]*:/i;
const MAIL_FROM = /mail\s+from:\s*<?([^\s<>@]+@[^\s<>]+)/gi;

/** X-Failed-Recipients, else the addresses the text names, else the one the returned message was sent to. */
function failedRecipients(message: MimePart, prose: string, context: ReportContext): string[] {
  const failed = (header(message, 'x-failed-recipients') ?? '')
    .split(',')
    .map((v) => normalizeAddress(v))
    .filter((v): v is string => Boolean(v));
  if (failed.length) return [...new Set(failed)];
  const excluded = new Set(
    [
      header(message, 'from'),
      header(message, 'to'),
      header(message, 'return-path'),
      ...(context.envelopeRecipients ?? []),
      ...[...prose.matchAll(MAIL_FROM)].map((m) => m[1]),
    ]
      .flatMap((v) => (v ? v.split(',') : []))
      .map((v) => normalizeAddress(v))
      .filter((v): v is string => Boolean(v)),
  );
  // Split first and match whole tokens: an unanchored address pattern is quadratic on long words.
  const mentioned = prose
    .split(/\r?\n/)
    .filter((line) => !QUOTED_HEADER_LINE.test(line))
    .flatMap((line) => line.split(/[\s<>()[\]"',;]+/))
    .filter((token) => token.includes('@') && token.length <= 320)
    .map((token) => normalizeAddress(token.match(/^(?:[a-z]+:)?([^\s@:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\.?:?$/i)?.[1]))
    .filter((v): v is string => Boolean(v) && !excluded.has(v!) && !DAEMON_SENDER.test(v!));
  if (mentioned.length) return [...new Set(mentioned)];
  const returned = returnedRecipient(message);
  return returned && !excluded.has(returned) ? [returned] : [];
}

/** The line (and its indented continuation) carrying the SMTP reply, when there is one. */
function diagnosticLine(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  const at = lines.findIndex((line) => findEnhancedStatus(line) ?? findSmtpCode(line));
  if (at < 0) return undefined;
  const out = [lines[at]!];
  for (const line of lines.slice(at + 1)) {
    if (!line.trim() || !/^[ \t]/.test(line) || /^\s*(?:host|giving up|remote host said)/i.test(line)) break;
    out.push(line);
  }
  return out.join(' ');
}
