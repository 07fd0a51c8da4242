// What the integrations context publishes. A call received at the Segment-compatible ingestion
// endpoint, accepted (authenticated, within limits, not a duplicate) and handed on as it came:
// CRM applies identify, alias, track, page, screen and group to its contacts. The subject is
// the person as the source names it (anonymousId, else userId), so one browser's calls keep
// their order.
import { z } from 'zod';
import { defineEvent } from '../events/envelope.ts';

// Only event definitions are exported here: the catalogue indexes every export.
const CALLS = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;

const id = z.string().min(1).max(512);
const bag = z.record(z.string(), z.unknown());

export const segmentCallReceived = defineEvent(
  'integrations.segment-call.received',
  1,
  'segment-person',
  z.object({
    sourceId: z.uuid(),
    call: z.enum(CALLS),
    messageId: id,
    userId: id.optional(),
    anonymousId: id.optional(),
    /** alias: the identity the userId replaces. */
    previousId: id.optional(),
    /** group: the account the person belongs to. */
    groupId: id.optional(),
    /** track: the event name; page and screen: the page's name. */
    event: z.string().min(1).max(200).optional(),
    name: z.string().max(512).optional(),
    category: z.string().max(512).optional(),
    traits: bag.optional(),
    properties: bag.optional(),
    context: bag.optional(),
    /** When it happened, corrected for the sender's clock (timestamp - sentAt + received). */
    timestamp: z.iso.datetime({ offset: true }),
    /** The timestamp as the sender stamped it, on its own clock (Segment's originalTimestamp). */
    originalTimestamp: z.iso.datetime({ offset: true }).optional(),
    receivedAt: z.iso.datetime({ offset: true }),
  }),
);

/**
 * An outbound webhook endpoint was turned off by the dispatcher: it answered 410 Gone, or kept
 * failing (every delivery for `failingForMs` and at least `consecutiveFailures` attempts in a row).
 * An endpoint turned off by a person publishes nothing.
 */
export const webhookEndpointDisabled = defineEvent(
  'integrations.webhook-endpoint.disabled',
  1,
  'webhook-endpoint',
  z.object({
    endpointId: z.uuid(),
    url: z.string().max(2048),
    reason: z.enum(['gone', 'failing']),
    consecutiveFailures: z.number().int().min(0),
    failingForMs: z.number().int().min(0),
  }),
);
