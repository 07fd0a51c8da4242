// Delivery's events: the contract the delivery context publishes and others (CRM, analytics,
// journeys) consume. Keyed by the contact when there is one.
import { z } from 'zod';
import { defineEvent } from '../events/envelope';

const message = {
  messageId: z.uuid(),
  /** Null for a send to a bare address. */
  contactId: z.uuid().nullable(),
  channel: z.enum(['email', 'sms', 'push', 'webhook']),
  /** The email address or phone number the message went to. */
  address: z.string().min(1).max(320),
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
  z.object({ ...message, bounceType: z.enum(['hard', 'soft']), reason: z.string().max(1000) }),
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
