// One entry point for a message received on the bounce/feedback address: which kind of report it
// is, and the feedback it carries.
import { isFeedbackReport, parseArf } from './arf.ts';
import { isDeliveryStatusReport, parseDsn, type ReportContext } from './dsn.ts';
import type { Feedback } from './feedback.ts';
import { parseMime } from './mime.ts';
import { parseNonStandardBounce } from './non-standard-bounce.ts';
import { sesNotificationMail } from './ses-sns.ts';

export type InboundMessageKind =
  /** RFC 3464 delivery status notification. */
  | 'dsn'
  /** RFC 5965 feedback report, or a Microsoft complaint without its report part. */
  | 'arf'
  /** An Amazon SES notification an SNS email subscription delivered. */
  | 'ses_notification'
  /** A bounce without a delivery-status part, read from its text. */
  | 'non_standard_bounce'
  /** Anything else (auto-replies, replies, spam): acknowledged and dropped. */
  | 'ignored';

export interface InboundMessageResult {
  kind: InboundMessageKind;
  feedback: Feedback[];
}

export function parseInboundMessage(raw: Buffer | string, context: ReportContext = {}): InboundMessageResult {
  const message = parseMime(raw);
  if (isFeedbackReport(message)) return { kind: 'arf', feedback: parseArf(message, context) };
  if (isDeliveryStatusReport(message)) return { kind: 'dsn', feedback: parseDsn(message, context) };
  const ses = sesNotificationMail(message);
  if (ses) return { kind: 'ses_notification', feedback: ses };
  const bounces = parseNonStandardBounce(message, context);
  if (bounces.length) return { kind: 'non_standard_bounce', feedback: bounces };
  return { kind: 'ignored', feedback: [] };
}
