// Segment's HTTP Tracking API as this endpoint reads it: the calls, their limits (32 KB a call,
// 500 KB a batch, 32 KB each message in it) and clock-skew correction. Pure: no I/O.
import { z } from 'zod';

export const SEGMENT_CALLS = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type SegmentCall = (typeof SEGMENT_CALLS)[number];

export const MAX_CALL_BYTES = 32 * 1024;
export const MAX_BATCH_BYTES = 500 * 1024;

const id = z.union([z.string().min(1).max(512), z.number().transform(String)]);
const bag = z.record(z.string(), z.unknown());
const time = z.iso.datetime({ offset: true });

const message = z.object({
  type: z.enum(SEGMENT_CALLS).optional(),
  messageId: z.string().min(1).max(512).optional(),
  userId: id.nullish(),
  anonymousId: id.nullish(),
  previousId: id.optional(),
  groupId: id.optional(),
  event: z.string().min(1).max(200).optional(),
  name: z.string().max(512).nullish(),
  category: z.string().max(512).nullish(),
  traits: bag.optional(),
  properties: bag.optional(),
  context: bag.optional(),
  timestamp: time.optional(),
  sentAt: time.optional(),
});
export type RawMessage = z.infer<typeof message>;

/** One call as it is handed on: its type known, its ids and time settled. */
export interface SegmentMessage {
  call: SegmentCall;
  messageId: string;
  userId?: string;
  anonymousId?: string;
  previousId?: string;
  groupId?: string;
  event?: string;
  name?: string;
  category?: string;
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  context?: Record<string, unknown>;
  timestamp: string;
  /** The timestamp the sender gave, uncorrected: the same in every retry of the call. */
  originalTimestamp?: string;
  receivedAt: string;
}

export type Refusal = { status: 400; message: string };

const refuse = (message: string): Refusal => ({ status: 400, message });

/**
 * Segment's correction for a sender whose clock is off: the time between the event and the send,
 * measured on the sender's clock, taken back from when it was received. Without sentAt the
 * timestamp is trusted; without a timestamp the call happened when it was received.
 */
export function correctedTimestamp(receivedAt: Date, timestamp?: string, sentAt?: string): Date {
  if (!timestamp) return receivedAt;
  const at = new Date(timestamp);
  if (!sentAt) return at;
  return new Date(receivedAt.getTime() - (new Date(sentAt).getTime() - at.getTime()));
}

/**
 * The calls in a request body to `/v1/<path>`, or why it is refused (nothing of a refused request
 * is applied). `newMessageId` names a call that came without one.
 */
export function readCalls(
  path: string,
  body: Buffer,
  receivedAt: Date,
  newMessageId: () => string,
): { ok: true; calls: SegmentMessage[]; writeKey?: string } | { ok: false; error: Refusal } {
  const isBatch = path === 'batch' || path === 'import';
  if (!isBatch && !(SEGMENT_CALLS as readonly string[]).includes(path))
    return { ok: false, error: refuse('unknown call') };
  if (body.length > (isBatch ? MAX_BATCH_BYTES : MAX_CALL_BYTES))
    return { ok: false, error: refuse(isBatch ? 'batch exceeds 500KB' : 'message exceeds 32KB') };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { ok: false, error: refuse('Invalid JSON') };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    return { ok: false, error: refuse('the body must be a JSON object') };
  const root = parsed as Record<string, unknown>;
  const writeKey = typeof root.writeKey === 'string' ? root.writeKey : undefined;
  let raws: unknown[];
  let batchSentAt: unknown;
  if (isBatch) {
    if (!Array.isArray(root.batch)) return { ok: false, error: refuse('batch: must be an array of calls') };
    raws = root.batch;
    batchSentAt = root.sentAt;
  } else raws = [{ ...root, type: path }];
  const calls: SegmentMessage[] = [];
  for (const [index, raw] of raws.entries()) {
    const where = isBatch ? `batch[${index}]: ` : '';
    if (isBatch && JSON.stringify(raw ?? null).length > MAX_CALL_BYTES)
      return { ok: false, error: refuse(`${where}message exceeds 32KB`) };
    const result = message.safeParse(
      isBatch && batchSentAt !== undefined && typeof raw === 'object' && raw ? { sentAt: batchSentAt, ...raw } : raw,
    );
    if (!result.success) {
      const issue = result.error.issues[0]!;
      return { ok: false, error: refuse(`${where}${issue.path.join('.') || 'message'}: ${issue.message}`) };
    }
    const checked = callOf(result.data, receivedAt, newMessageId);
    if (!checked.ok) return { ok: false, error: refuse(`${where}${checked.message}`) };
    calls.push(checked.call);
  }
  return { ok: true, calls, ...(writeKey ? { writeKey } : {}) };
}

function callOf(
  raw: RawMessage,
  receivedAt: Date,
  newMessageId: () => string,
): { ok: true; call: SegmentMessage } | { ok: false; message: string } {
  const call = raw.type;
  if (!call) return { ok: false, message: 'type: is required in a batch' };
  const userId = raw.userId ?? undefined;
  const anonymousId = raw.anonymousId ?? undefined;
  if (!userId && !anonymousId) return { ok: false, message: 'userId or anonymousId is required' };
  if (call === 'track' && !raw.event) return { ok: false, message: 'event: is required for track' };
  if (call === 'group' && !raw.groupId) return { ok: false, message: 'groupId: is required for group' };
  if (call === 'alias' && (!raw.previousId || !userId))
    return { ok: false, message: 'previousId and userId are required for alias' };
  const out: SegmentMessage = {
    call,
    messageId: raw.messageId ?? newMessageId(),
    timestamp: correctedTimestamp(receivedAt, raw.timestamp, raw.sentAt).toISOString(),
    receivedAt: receivedAt.toISOString(),
  };
  if (raw.timestamp) out.originalTimestamp = new Date(raw.timestamp).toISOString();
  if (userId) out.userId = userId;
  if (anonymousId) out.anonymousId = anonymousId;
  for (const key of ['previousId', 'groupId', 'event', 'traits', 'properties', 'context'] as const)
    if (raw[key] !== undefined) (out as unknown as Record<string, unknown>)[key] = raw[key];
  if (raw.name) out.name = raw.name;
  if (raw.category) out.category = raw.category;
  return { ok: true, call: out };
}
