// Complaint reports in the Abuse Reporting Format (RFC 5965), as mailbox providers' feedback
// loops send them (Yahoo, AOL, Microsoft JMRP, Comcast, ...).
import { isMimePart, originalHeaders, type ReportContext, recoverMessageId } from './dsn.ts';
import { type ComplaintFeedback, compact, normalizeAddress } from './feedback.ts';
import { bodyText, type MimePart, parseFieldGroups, parseMime, walk } from './mime.ts';

const REPORT_TYPES = new Set(['message/feedback-report', 'message/global-feedback-report']);

// auth-failure (RFC 6591) is a DMARC/SPF failure sample, not a person's complaint; not-spam is the
// opposite of one. Neither may suppress anybody.
const NOT_COMPLAINTS = new Set(['auth-failure', 'not-spam']);

export function isFeedbackReport(message: MimePart): boolean {
  return walk(message).some((part) => REPORT_TYPES.has(part.contentType.type)) || isMicrosoftComplaint(message);
}

// Microsoft's JMRP (Outlook.com / Hotmail) also sends complaints as a bare multipart/mixed with the
// complained-about message attached: no feedback-report part, the recipient in a header only
// Microsoft adds to that copy.
const MICROSOFT_RECIPIENT = 'x-hmxmroriginalrecipient';

function isMicrosoftComplaint(message: MimePart): boolean {
  return walk(message).some(
    (part) =>
      part.contentType.type === 'message/rfc822' && part.parts[0]?.headers.some((h) => h.name === MICROSOFT_RECIPIENT),
  );
}

/**
 * The complaints an ARF report (or a Microsoft complaint without its report part, read as an
 * `abuse` report) carries, one per reported recipient. Returns [] for other messages and for
 * reports that are no complaint.
 */
export function parseArf(input: Buffer | string | MimePart, context: ReportContext = {}): ComplaintFeedback[] {
  const message = isMimePart(input) ? input : parseMime(input);
  const reportPart = walk(message).find((part) => REPORT_TYPES.has(part.contentType.type));
  if (!reportPart && !isMicrosoftComplaint(message)) return [];
  const fields = new Map<string, string[]>();
  for (const group of reportPart ? parseFieldGroups(bodyText(reportPart)) : []) {
    for (const [name, values] of group) fields.set(name, [...(fields.get(name) ?? []), ...values]);
  }
  const feedbackType = fields.get('feedback-type')?.[0]?.trim().toLowerCase() || (reportPart ? 'other' : 'abuse');
  if (NOT_COMPLAINTS.has(feedbackType)) return [];
  const userAgent = fields.get('user-agent')?.[0]?.trim() || undefined;
  const messageId = recoverMessageId(message, context);

  let recipients = [...(fields.get('original-rcpt-to') ?? []), ...(fields.get('removal-recipient') ?? [])]
    .map((v) => normalizeAddress(v))
    .filter((v): v is string => Boolean(v));
  if (!recipients.length) {
    // Without Original-Rcpt-To: Microsoft keeps the recipient in X-HmXmrOriginalRecipient; else
    // the original To, unless the reporter redacted it.
    const headers = originalHeaders(message) ?? [];
    const candidates = [MICROSOFT_RECIPIENT, 'to'].map((name) => headers.find((h) => h.name === name)?.value);
    const address = candidates.map((v) => normalizeAddress(v)).find((v) => v && !/redacted|^x+@/i.test(v));
    if (address) recipients = [address];
  }
  recipients = [...new Set(recipients)];
  if (!recipients.length) {
    return messageId ? [compact({ kind: 'complaint', feedbackType, messageId, userAgent })] : [];
  }
  return recipients.map((recipient) => compact({ kind: 'complaint', recipient, feedbackType, messageId, userAgent }));
}
