// Bounce messages: RFC 3464 delivery status notifications, and the plain-text bounces some MTAs
// still send (qmail, classic Exim, old Exchange), read with a cautious heuristic.
import {
  type BounceFeedback,
  classifyBounce,
  cleanDiagnostic,
  compact,
  type DeliveredFeedback,
  findEnhancedStatus,
  findSmtpCode,
  messageIdFromVerp,
  normalizeAddress,
  ourMessageId,
} from './feedback.ts';
import { bodyText, header, type MimePart, parseFieldGroups, parseHeaderBlock, parseMime, walk } from './mime.ts';

export interface ReportContext {
  /** Envelope recipients of the report (RCPT TO); a VERP address there can carry our message id. */
  envelopeRecipients?: string[];
}

export type BounceOutcome = BounceFeedback | DeliveredFeedback;

const STATUS_TYPES = new Set(['message/delivery-status', 'message/global-delivery-status']);
const HEADER_TYPES = new Set(['text/rfc822-headers', 'message/rfc822-headers', 'message/global-headers']);
const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);

export function isDeliveryStatusReport(message: MimePart): boolean {
  return walk(message).some((part) => STATUS_TYPES.has(part.contentType.type));
}

/** The headers of the message a report is about, from its message/rfc822 or headers-only part. */
export function originalHeaders(message: MimePart): { name: string; value: string }[] | undefined {
  for (const part of walk(message).slice(1)) {
    if (MESSAGE_TYPES.has(part.contentType.type) && part.parts[0]) return part.parts[0].headers;
    if (HEADER_TYPES.has(part.contentType.type)) return parseHeaderBlock(part.body.toString('latin1'));
  }
  return undefined;
}

/** Our message id from the original headers, else from quoted header lines, else from VERP. */
export function recoverMessageId(message: MimePart, context: ReportContext, quoted?: string): string | undefined {
  const headers = originalHeaders(message);
  const fromHeaders = headers
    ? ourMessageId({
        xMaunticMessage: headers.find((h) => h.name === 'x-mauntic-message')?.value,
        messageId: headers.find((h) => h.name === 'message-id')?.value,
      })
    : undefined;
  if (fromHeaders) return fromHeaders;
  if (quoted) {
    const fromText = ourMessageId({
      xMaunticMessage: quoted.match(/^X-Mauntic-Message:[ \t]*(\S+)/im)?.[1],
      messageId: quoted.match(/^Message-ID:[ \t]*(<[^>\s]+>)/im)?.[1],
    });
    if (fromText) return fromText;
  }
  // A VERP return path names the message: from the envelope, else from the report's own headers.
  const addressedTo = ['to', 'delivered-to', 'x-original-to', 'envelope-to'].flatMap((name) =>
    message.headers.filter((h) => h.name === name).map((h) => normalizeAddress(h.value)),
  );
  for (const address of [...(context.envelopeRecipients ?? []), ...addressedTo]) {
    const id = messageIdFromVerp(address);
    if (id) return id;
  }
  return undefined;
}

/**
 * Per-recipient outcomes of an RFC 3464 report. Returns [] when the message holds no
 * message/delivery-status part.
 */
export function parseDsn(input: Buffer | string | MimePart, context: ReportContext = {}): BounceOutcome[] {
  const message = isMimePart(input) ? input : parseMime(input);
  const statusPart = walk(message).find((part) => STATUS_TYPES.has(part.contentType.type));
  if (!statusPart) return [];
  const groups = parseFieldGroups(bodyText(statusPart));
  const perMessage = groups.find((g) => !g.has('final-recipient') && !g.has('original-recipient'));
  const reportingMta = stripTypePrefix(perMessage?.get('reporting-mta')?.[0]);
  const messageId = recoverMessageId(message, context, humanText(message));
  const outcomes: BounceOutcome[] = [];
  for (const fields of groups) {
    const recipient =
      normalizeAddress(fields.get('final-recipient')?.[0]) ?? normalizeAddress(fields.get('original-recipient')?.[0]);
    if (!recipient) continue;
    const action = fields.get('action')?.[0]?.trim().toLowerCase();
    const diagnostic = cleanDiagnostic(stripTypePrefix(fields.get('diagnostic-code')?.join(' ')));
    if (action === 'delivered' || action === 'relayed' || action === 'expanded') {
      outcomes.push(compact({ kind: 'delivered', recipient, messageId }));
      continue;
    }
    const status = findEnhancedStatus(fields.get('status')?.[0]) ?? findEnhancedStatus(diagnostic);
    outcomes.push(
      compact({
        kind: 'bounce',
        bounceType: classifyBounce({ action, status, diagnostic }),
        recipient,
        status,
        diagnostic,
        messageId,
        reportingMta: reportingMta ?? stripTypePrefix(fields.get('remote-mta')?.[0]),
      }),
    );
  }
  return outcomes;
}

const DAEMON_SENDER = /^(?:mailer-daemon|postmaster|mail-daemon|maildaemon|mdaemon|bounces?|double-bounce)@/i;
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

const MAX_PROSE = 32 * 1024;

// Where a bounce stops talking and starts quoting the message it returns.
const QUOTE_MARKER =
  /^[ \t]*(?:(?:-{2,}|_{2,}|={2,})[ \t]*)?(?:this is a copy of (?:the|your) message|below this line is a copy|(?:original|returned|undelivered) message|original message headers|forwarded message|the headers of the original message)/im;

/**
 * Recipients of a bounce that has no delivery-status part, with a type read from the SMTP codes
 * and wording of the text. Returns [] for anything that does not look like a bounce.
 */
export function parseNonStandardBounce(
  input: Buffer | string | MimePart,
  context: ReportContext = {},
): BounceFeedback[] {
  const message = isMimePart(input) ? input : parseMime(input);
  if (!looksLikeBounce(message)) return [];
  // Bounce prose is short; the cap keeps the address and phrase scans linear on hostile input.
  const text = humanText(message).slice(0, MAX_PROSE);
  const cut = text.search(QUOTE_MARKER);
  const prose = cut >= 0 ? text.slice(0, cut) : text;
  const quoted = cut >= 0 ? text.slice(cut) : '';
  const messageId = recoverMessageId(message, context, quoted);

  const excluded = new Set(
    [
      header(message, 'from'),
      header(message, 'to'),
      header(message, 'return-path'),
      ...(context.envelopeRecipients ?? []),
    ]
      .flatMap((v) => (v ? v.split(',') : []))
      .map((v) => normalizeAddress(v))
      .filter((v): v is string => Boolean(v)),
  );
  const failed = (header(message, 'x-failed-recipients') ?? '')
    .split(',')
    .map((v) => normalizeAddress(v))
    .filter((v): v is string => Boolean(v));
  // Split first and match whole tokens: an unanchored address pattern is quadratic on long words.
  const mentioned = prose
    .split(/[\s<>()[\]"',;]+/)
    .filter((token) => token.includes('@') && token.length <= 320)
    .map((token) => normalizeAddress(token.match(/^(?:[a-z]+:)?([^\s@:]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})\.?:?$/i)?.[1]))
    .filter((v): v is string => Boolean(v) && !excluded.has(v!) && !DAEMON_SENDER.test(v!));
  const recipients = [...new Set(failed.length ? failed : mentioned)];

  const delayed = DELAY_MESSAGE.test(header(message, 'subject') ?? '') || DELAY_MESSAGE.test(prose);
  const reportingMta = prose.match(
    /(?:qmail-send program at|mail server at|reporting[- ]mta:?)\s+([A-Za-z0-9.-]+[A-Za-z0-9])/i,
  )?.[1];
  return recipients.map((recipient, i) => {
    const segment = recipientSegment(prose, recipient, recipients[i + 1]);
    const saysSomething = findEnhancedStatus(segment) ?? findSmtpCode(segment);
    const evidence = saysSomething ? segment : prose;
    const status = findEnhancedStatus(evidence);
    return compact({
      kind: 'bounce' as const,
      bounceType: classifyBounce({ action: delayed ? 'delayed' : undefined, status, diagnostic: evidence }),
      recipient,
      status,
      diagnostic: cleanDiagnostic(diagnosticLine(segment) ?? diagnosticLine(prose) ?? segment, 500),
      messageId,
      reportingMta,
    });
  });
}

const DELAY_MESSAGE =
  /delayed|not (?:yet )?been delivered|will (?:continue|keep) (?:trying|to try)|still trying|delivery attempts will continue/i;

function recipientSegment(prose: string, recipient: string, next: string | undefined): string {
  const lower = prose.toLowerCase();
  const start = lower.indexOf(recipient);
  if (start < 0) return prose;
  const end = next ? lower.indexOf(next, start + recipient.length) : -1;
  return prose.slice(start, end > start ? end : undefined);
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

/**
 * The readable text of a message outside its embedded messages: text/plain parts, or text/html
 * stripped of markup when no plain part exists.
 */
export function humanText(message: MimePart): string {
  const plain: string[] = [];
  const html: string[] = [];
  const visit = (part: MimePart) => {
    if (MESSAGE_TYPES.has(part.contentType.type)) return;
    const attachment = header(part, 'content-disposition')?.toLowerCase().startsWith('attachment');
    if (part.contentType.type === 'text/plain' && !attachment) plain.push(bodyText(part));
    if (part.contentType.type === 'text/html' && !attachment) html.push(htmlToText(bodyText(part)));
    for (const child of part.parts) visit(child);
  };
  visit(message);
  return (plain.length ? plain : html).join('\n');
}

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[\s\S]*?<\/\1>/gi, '')
    .replace(/<br\s*\/?>|<\/(?:p|div|tr|li|h\d)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&apos;/g, "'")
    .replace(/&nbsp;/g, ' ')
    .replace(/&amp;/g, '&');
}

function stripTypePrefix(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const trimmed = value.replace(/^\s*[A-Za-z][A-Za-z0-9-]*\s*;\s*/, '').trim();
  return trimmed || undefined;
}

export function isMimePart(input: Buffer | string | MimePart): input is MimePart {
  return typeof input === 'object' && !Buffer.isBuffer(input) && 'contentType' in input;
}
