// What journey steps ask other contexts to do, published through the journey outbox: CRM applies
// contact updates, static segment changes and custom events; a member is notified by email or
// webhook. The subject is the contact, so one contact's requests keep their order; each carries
// `journey:<runId>:<stepId>:<visit>` as its idempotency key, so a consumer applies it once
// however often it arrives.
import { z } from 'zod';
import { defineEvent } from '../events/envelope.ts';

const request = {
  runId: z.uuid(),
  journeyId: z.uuid(),
  stepId: z.string().min(1).max(64),
  idempotencyKey: z.string().min(1).max(200),
};

/** An update contact step: CRM applies the changes it names (absent: unchanged; null clears). */
export const contactUpdateRequested = defineEvent(
  'journey.contact-update.requested',
  1,
  'contact',
  z.object({
    ...request,
    /** Standard fields by name, custom ones as `fields.<key>`. */
    set: z.record(z.string(), z.unknown()).optional(),
    addTags: z.array(z.string().min(1).max(200)).optional(),
    removeTags: z.array(z.string().min(1).max(200)).optional(),
    /** Added to the contact's points (negative subtracts). */
    points: z.number().int().optional(),
    stageId: z.uuid().nullable().optional(),
    ownerId: z.uuid().nullable().optional(),
    dnc: z.object({ channel: z.enum(['email', 'sms', 'push']), value: z.boolean() }).optional(),
  }),
);

/** A segment step: CRM adds the contact to, or removes it from, a static segment. */
export const segmentChangeRequested = defineEvent(
  'journey.segment-change.requested',
  1,
  'contact',
  z.object({ ...request, segmentId: z.uuid(), action: z.enum(['add', 'remove']) }),
);

/** An emit event step: a custom event on the contact, as trackContactEvent records one. */
export const contactEventRequested = defineEvent(
  'journey.contact-event.requested',
  1,
  'contact',
  z.object({ ...request, name: z.string().min(1).max(200), properties: z.record(z.string(), z.unknown()) }),
);

/** A notify step: tell a member about the contact, by email (a template) or by webhook. */
export const notificationRequested = defineEvent(
  'journey.notification.requested',
  1,
  'contact',
  z.object({
    ...request,
    via: z.enum(['email', 'webhook']),
    /** A member's email address, or an http(s) URL. */
    target: z.string().min(1).max(2048),
    templateId: z.uuid().nullable(),
    /** What the message or the webhook body carries: the run's data. */
    context: z.record(z.string(), z.unknown()),
  }),
);
