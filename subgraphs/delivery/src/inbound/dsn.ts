// Delivery status notifications (RFC 3464), and what every report parser shares: the returned
// message's headers, our message id, the report's human-readable text.
import { classifyBounce } from '../domain/bounce.ts';
import {
  type BounceFeedback,
  cleanDiagnostic,
  compact,
  type DeliveredFeedback,
  messageIdFromVerp,
  normalizeAddress,
  ourMessageId,
} from './feedback.ts';
import { bodyText, header, type MimePart, parseHeaderBlock, parseMime, walk } from './mime.ts';

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

/**
 * The one address the returned message was sent To. We send one message per recipient, so when a
 * report names its recipient in a way that is no address (a mailbox file, a local alias), this is it.
 */
export function returnedRecipient(message: MimePart): string | undefined {
  const to = originalHeaders(message)?.find((h) => h.name === 'to')?.value;
  const addresses = (to ?? '').split(',').map((v) => normalizeAddress(v));
  return addresses.length === 1 ? addresses[0] : undefined;
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
  const { prose, quoted } = reportText(message);
  return deliveryStatusOutcomes(bodyText(statusPart), {
    prose,
    messageId: recoverMessageId(message, context, `${prose}\n${quoted}`),
    fallbackRecipient: returnedRecipient(message),
  });
}

const MAX_PROSE = 32 * 1024;

// Where a report stops talking and starts quoting the message it returns, in the words of
// Postfix, Exim, Sendmail, qmail, GMX/1&1, OpenSMTPD, Gmail, IMail, Notes, m-FILTER ...
const QUOTE_MARKER =
  /^[ \t]*(?:(?:-{2,}|_{2,}|={2,})[ \t]*)?(?:this is a copy of (?:the|your) message|below (?:this line )?is a copy|enclosed is a copy|(?:original|returned|undelivered|unsent) message|original message (?:headers|follows)|forwarded message|the headers? of the original message)/im;

/**
 * The report's own words (capped: bounce prose is short, and the cap keeps every scan of it
 * linear on hostile input) and, apart, the copy of the returned message that follows them.
 */
export function reportText(message: MimePart): { prose: string; quoted: string } {
  const text = humanText(message).slice(0, MAX_PROSE);
  const cut = text.search(QUOTE_MARKER);
  return cut >= 0 ? { prose: text.slice(0, cut), quoted: text.slice(cut) } : { prose: text, quoted: '' };
}

type FieldGroup = Map<string, string[]>;

// Fields a recipient has once: meeting one again starts the next recipient, for reports that
// leave out the blank line between recipients.
const PER_RECIPIENT = new Set(['final-recipient', 'original-recipient', 'action', 'status', 'diagnostic-code']);

/** The blocks of a delivery-status body: the per-message fields, then one block per recipient. */
function deliveryStatusGroups(text: string): FieldGroup[] {
  const groups: FieldGroup[] = [];
  for (const block of text.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/)) {
    let group: FieldGroup = new Map();
    for (const { name, value } of parseHeaderBlock(block)) {
      if (PER_RECIPIENT.has(name) && group.has(name)) {
        groups.push(group);
        group = new Map();
      }
      group.set(name, [...(group.get(name) ?? []), value]);
    }
    if (group.size) groups.push(group);
  }
  return groups;
}

/**
 * The outcomes of delivery-status fields, wherever they were found: a message/delivery-status
 * part, or the same fields written into a report's text.
 */
export function deliveryStatusOutcomes(
  text: string,
  report: { prose: string; messageId: string | undefined; fallbackRecipient: string | undefined },
): BounceOutcome[] {
  const groups = deliveryStatusGroups(text);
  const reportingMta = stripTypePrefix(groups.find((g) => g.has('reporting-mta'))?.get('reporting-mta')?.[0]);
  const recipientGroups = groups.filter((g) => g.has('final-recipient') || g.has('original-recipient'));
  const addressOf = (fields: FieldGroup) =>
    normalizeAddress(fields.get('final-recipient')?.[0]) ?? normalizeAddress(fields.get('original-recipient')?.[0]);
  const segmentOf = recipientSegments(
    report.prose,
    recipientGroups.map(addressOf).filter((v): v is string => Boolean(v)),
  );
  const outcomes: BounceOutcome[] = [];
  for (const fields of recipientGroups) {
    const recipient = addressOf(fields) ?? (recipientGroups.length === 1 ? report.fallbackRecipient : undefined);
    if (!recipient) continue;
    const diagnostic = cleanDiagnostic(stripTypePrefix(fields.get('diagnostic-code')?.join(' ')));
    const classified = classifyBounce({
      action: fields.get('action')?.[0],
      status: fields.get('status')?.[0],
      diagnostic,
      context: segmentOf(recipient),
    });
    if (classified.reason === 'delivered') {
      outcomes.push(compact({ kind: 'delivered', recipient, messageId: report.messageId }));
      continue;
    }
    outcomes.push(
      compact({
        kind: 'bounce',
        bounceType: classified.bounceType,
        reason: classified.reason,
        recipient,
        status: classified.status,
        diagnostic,
        messageId: report.messageId,
        reportingMta: reportingMta ?? stripTypePrefix(fields.get('remote-mta')?.[0]),
      }),
    );
  }
  return outcomes;
}

/**
 * The part of a report's text about each recipient: from its first mention to the next mention of
 * another recipient; the whole text when the report names only one recipient. Mentions are found
 * once, so many recipients cost no more than one pass each over the text.
 */
export function recipientSegments(prose: string, recipients: string[]): (recipient: string) => string {
  const lower = prose.toLowerCase();
  const mentions: { at: number; recipient: string }[] = [];
  for (const recipient of new Set(recipients)) {
    for (let at = lower.indexOf(recipient); at >= 0; at = lower.indexOf(recipient, at + recipient.length)) {
      mentions.push({ at, recipient });
    }
  }
  mentions.sort((a, b) => a.at - b.at);
  const alone = new Set(recipients).size <= 1;
  return (recipient) => {
    const start = mentions.find((m) => m.recipient === recipient)?.at;
    if (start === undefined) return alone ? prose : '';
    return prose.slice(start, mentions.find((m) => m.at > start && m.recipient !== recipient)?.at);
  };
}

/**
 * The readable text of a message outside its embedded messages: text/plain parts, or text/html
 * stripped of markup when no plain part exists. A multipart whose parts could not be found (no
 * delimiter in its body) is read as text.
 */
export function humanText(message: MimePart): string {
  const plain: string[] = [];
  const html: string[] = [];
  const visit = (part: MimePart) => {
    if (MESSAGE_TYPES.has(part.contentType.type)) return;
    const attachment = header(part, 'content-disposition')?.toLowerCase().startsWith('attachment');
    const type = part.contentType.type;
    const partless = type.startsWith('multipart/') && !part.parts.length;
    if ((type === 'text/plain' || partless) && !attachment) plain.push(bodyText(part));
    if (type === 'text/html' && !attachment) html.push(htmlToText(bodyText(part)));
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
