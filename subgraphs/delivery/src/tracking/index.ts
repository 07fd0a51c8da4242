// Open, click and unsubscribe tracking: signed tokens, the unsubscribe headers, and the
// machine-event classifier. (Link rewriting and the open pixel are template rules: domain/templates/links.ts.)
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
