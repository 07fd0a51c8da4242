import { z } from 'zod';
import { defineEvent } from '../events/envelope.ts';

const contactSnapshot = z.object({
  email: z.string().nullable(),
  firstName: z.string().nullable(),
  lastName: z.string().nullable(),
  phone: z.string().nullable(),
  timezone: z.string().nullable(),
  locale: z.string().nullable(),
  ownerId: z.string().nullable(),
  stageId: z.string().nullable(),
  points: z.number().int(),
  tags: z.array(z.string()),
  fields: z.record(z.string(), z.unknown()),
});

export const contactCreated = defineEvent('crm.contact.created', 1, 'contact', z.object({ contact: contactSnapshot }));

export const contactUpdated = defineEvent(
  'crm.contact.updated',
  1,
  'contact',
  z.object({
    contact: contactSnapshot,
    /** Names of what changed: standard field names and `fields.<key>` for custom fields. */
    changed: z.array(z.string()),
  }),
);

export const contactDeleted = defineEvent('crm.contact.deleted', 1, 'contact', z.object({ erased: z.boolean() }));

export const contactMerged = defineEvent(
  'crm.contact.merged',
  1,
  'contact',
  z.object({ winnerId: z.uuid(), loserId: z.uuid() }),
);

export const contactTagged = defineEvent(
  'crm.contact.tagged',
  1,
  'contact',
  z.object({ added: z.array(z.string()), removed: z.array(z.string()) }),
);

export const segmentEntered = defineEvent('crm.segment.entered', 1, 'contact', z.object({ segmentId: z.uuid() }));
export const segmentExited = defineEvent('crm.segment.exited', 1, 'contact', z.object({ segmentId: z.uuid() }));

export const segmentRebuilt = defineEvent(
  'crm.segment.rebuilt',
  1,
  'segment',
  z.object({ added: z.number().int(), removed: z.number().int(), memberCount: z.number().int(), tookMs: z.number() }),
);

export const dncChanged = defineEvent(
  'crm.dnc.changed',
  1,
  'contact',
  z.object({
    channel: z.enum(['email', 'sms', 'push']),
    doNotContact: z.boolean(),
    reason: z.enum(['unsubscribed', 'bounced', 'complaint', 'manual']).optional(),
    source: z.string().optional(),
  }),
);

export const pointsChanged = defineEvent(
  'crm.points.changed',
  1,
  'contact',
  z.object({ delta: z.number().int(), points: z.number().int(), reason: z.string().optional() }),
);
