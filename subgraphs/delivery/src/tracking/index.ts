// Open, click and unsubscribe tracking: signed tokens, link rewriting, the open pixel, the
// unsubscribe headers, and the machine-event classifier.
export {
  decodeEntities,
  insertOpenPixel,
  NO_TRACK_ATTRIBUTE,
  type RewriteLinksOptions,
  type RewrittenHtml,
  rewriteLinks,
} from './links.ts';
export { type ListUnsubscribeHeaders, listUnsubscribeHeaders } from './list-unsubscribe.ts';
export {
  classifyMachineEvent,
  MACHINE_RULES,
  type MachineClassification,
  type MachineEventInput,
  type MachineReason,
  SCANNER_CLICK_SECONDS,
} from './machine-events.ts';
export {
  signToken,
  type TrackingKey,
  type TrackingKind,
  type TrackingToken,
  type TrackingTokenPayload,
  type TrackingTokens,
  trackingTokens,
  verifyToken,
} from './token.ts';
