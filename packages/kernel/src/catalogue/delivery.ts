// Delivery's events: the contract the delivery context publishes and others (CRM, analytics,
// journeys) consume. Keyed by the contact when there is one.
import { z } from 'zod';
import { defineEvent } from '../events/envelope.ts';

const message = {
  messageId: z.uuid(),
  /** Null for a send to a bare address. */
  contactId: z.uuid().nullable(),
  channel: z.enum(['email', 'sms', 'push', 'webhook']),
  /**
   * Where the message went: an email address, a phone number, a device token, or for a webhook
   * its template's URL. Empty when there was none (a message skipped with reason no_address or
   * unknown_contact).
   */
  address: z.string().max(4096),
  templateId: z.uuid().nullable(),
  source: z.object({
    kind: z.enum(['transactional', 'campaign', 'journey']),
    /** Campaign id or journey run id. */
    id: z.string().nullable(),
    /** Journey step id. */
    stepId: z.string().nullable(),
  }),
};

export const messageSent = defineEvent('delivery.message.sent', 1, 'contact', z.object(message));

export const messageOpened = defineEvent(
  'delivery.message.opened',
  1,
  'contact',
  z.object({ ...message, machine: z.boolean().describe('Apple MPP proxy or link scanner, not a person') }),
);

export const messageClicked = defineEvent(
  'delivery.message.clicked',
  1,
  'contact',
  z.object({ ...message, url: z.string().max(4096), machine: z.boolean() }),
);

export const messageBounced = defineEvent(
  'delivery.message.bounced',
  1,
  'contact',
  z.object({
    ...message,
    /** hard: the address is dead and suppressed; soft: it is not. */
    bounceType: z.enum(['hard', 'soft']),
    /** Why, by meaning: user_unknown, mailbox_full, policy_authentication, blocklisted_reputation... */
    bounceReason: z
      .string()
      .regex(/^[a-z_]{1,40}$/)
      .optional(),
    /** The reason, status and diagnostic as received. */
    reason: z.string().max(1000),
  }),
);

export const messageComplained = defineEvent(
  'delivery.message.complained',
  1,
  'contact',
  z.object({ ...message, feedbackType: z.string().max(100) }),
);

export const messageUnsubscribed = defineEvent(
  'delivery.message.unsubscribed',
  1,
  'contact',
  z.object({ ...message, oneClick: z.boolean() }),
);

/**
 * A message was accepted for sending (by the transactional API, or for a journey or campaign) and
 * waits for the delivery engine. The engine treats this event as a wake-up: the message row is the
 * source of truth, so a lost or repeated event neither loses nor duplicates a send.
 */
export const messageQueued = defineEvent(
  'delivery.message.queued',
  1,
  'contact',
  /** The request's key; for a push to a contact, that key, `:` and a hash of the device token. */
  z.object({ ...message, idempotencyKey: z.string().min(1).max(256) }),
);

/** The provider confirmed delivery to the recipient's server or device (DSN, webhook, callback). */
export const messageDelivered = defineEvent('delivery.message.delivered', 1, 'contact', z.object(message));

/** The message could not be sent (permanent provider error, retries exhausted) or was skipped. */
export const messageFailed = defineEvent(
  'delivery.message.failed',
  1,
  'contact',
  z.object({
    ...message,
    /**
     * provider_error | suppressed | do_not_contact | frequency_cap | quiet_hours | no_provider |
     * render_error, and for a request that could not become a sendable message: no_address (the
     * contact has none for the channel) | unknown_contact (delivery never saw the contact in time).
     */
    reason: z.string().max(100),
    detail: z.string().max(1000).nullable(),
  }),
);

/**
 * A request to send a message, published by the contexts that decide to send (journeys,
 * campaigns) onto delivery's topic. Delivery turns each into one message row, once per
 * (organization, idempotency key) however often the request arrives; a push to a contact into one
 * message per registered device. Every request ends in an outcome event: a message that cannot be
 * sent (no address, no consent, suppressed, capped, unknown contact) in delivery.message.failed
 * with its reason. A request for a contact delivery has not heard of yet waits for it a while.
 */
export const messageRequested = defineEvent(
  'delivery.message.requested',
  1,
  'contact',
  z.object({
    channel: z.enum(['email', 'sms', 'push', 'webhook']),
    templateId: z.uuid(),
    /**
     * The recipient as a contact (its address is looked up), or a bare address. A webhook goes to
     * its template's URL; the contact is whom its body is about.
     */
    contactId: z.uuid().nullable(),
    address: z.string().min(1).max(4096).nullable(),
    /**
     * What the template reads as {{context.…}}. `context.utm` ({ source, medium, campaign, content,
     * term }: a campaign's UTM values) is added as utm_* parameters to the message's tracked http(s)
     * links that do not carry them, where a click sends the visitor.
     */
    context: z.record(z.string(), z.unknown()).default({}),
    idempotencyKey: z.string().min(1).max(200),
    source: message.source,
  }),
);

// The suppression list, one event per change. The subject is the list entry, `<channel>:<address>`,
// so the changes to one entry keep their order however often it leaves and returns.
const suppression = {
  channel: z.enum(['email', 'sms']),
  address: z.string().min(1).max(320),
  reason: z.enum(['hard_bounce', 'complaint', 'unsubscribe', 'manual']),
};

/**
 * An address will not be sent to any more (hard bounce, complaint, manual), or not sent marketing
 * (unsubscribe); also when a stronger reason replaces an unsubscribe.
 */
export const suppressionAdded = defineEvent(
  'delivery.suppression.added',
  1,
  'suppression',
  z.object({
    ...suppression,
    /** Where it came from: `one-click`, `inbound-smtp`, `webhook:<kind>`, a note given by hand. */
    source: z.string().max(200).nullable(),
    /** The message whose bounce, complaint or unsubscribe caused it; null when added by hand. */
    messageId: z.uuid().nullable(),
  }),
);

/** An address left the suppression list (removed by hand, or resubscribed on the preference page). */
export const suppressionRemoved = defineEvent(
  'delivery.suppression.removed',
  1,
  'suppression',
  z.object({
    ...suppression,
    /** The message whose preference page resubscribed the address; null when removed by hand. */
    messageId: z.uuid().nullable(),
  }),
);

// Templates as others name them (a journey's send steps), keyed by the template.
const template = z.object({
  channel: z.enum(['email', 'sms', 'push', 'webhook']),
  name: z.string().min(1).max(200),
});

export const templateCreated = defineEvent('delivery.template.created', 1, 'template', template);
/** Its name, category or content changed. */
export const templateUpdated = defineEvent('delivery.template.updated', 1, 'template', template);
export const templateDeleted = defineEvent('delivery.template.deleted', 1, 'template', template);
