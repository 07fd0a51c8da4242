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

/**
 * A custom event about a contact, as `trackContactEvent` (or a journey's emit event step) records it
 * on the timeline: what journeys trigger and wait on by name, with conditions on its properties.
 */
export const contactEventTracked = defineEvent(
  'crm.contact.event-tracked',
  1,
  'contact',
  z.object({
    name: z.string().min(1).max(200),
    properties: z.record(z.string(), z.unknown()),
    /** When it happened (given by the reporter, or when it was reported). */
    occurredAt: z.iso.datetime({ offset: true }),
  }),
);

// Companies and which companies a contact works at, for the contexts that read company conditions
// (journeys): a company's events are keyed by the company, a contact's links by the contact.
const companySnapshot = z.object({
  name: z.string().min(1),
  domain: z.string().nullable(),
  fields: z.record(z.string(), z.unknown()),
});

export const companyCreated = defineEvent('crm.company.created', 1, 'company', z.object({ company: companySnapshot }));
export const companyUpdated = defineEvent('crm.company.updated', 1, 'company', z.object({ company: companySnapshot }));
/**
 * Its links to contacts went with it: no crm.contact.companies-changed follows for its contacts,
 * whose lists keep naming it until they change again (consumers drop the deleted company).
 */
export const companyDeleted = defineEvent('crm.company.deleted', 1, 'company', z.object({}));

/** A contact's companies changed (linked, unlinked, a new primary, a merge, a deletion): the full current list. */
export const contactCompaniesChanged = defineEvent(
  'crm.contact.companies-changed',
  1,
  'contact',
  z.object({ companyIds: z.array(z.uuid()), primaryCompanyId: z.uuid().nullable() }),
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

/** A contact's score in a point group changed (the default score is crm.points.changed). */
export const groupPointsChanged = defineEvent(
  'crm.group-points.changed',
  1,
  'contact',
  z.object({ groupId: z.uuid(), delta: z.number().int(), points: z.number().int(), reason: z.string().optional() }),
);

/** A contact moved along the organization's stage pipeline; `reason` says what moved it. */
export const contactStageChanged = defineEvent(
  'crm.contact.stage-changed',
  1,
  'contact',
  z.object({
    fromStageId: z.uuid().nullable(),
    toStageId: z.uuid().nullable(),
    /** import: a contact import's row set the stage. */
    reason: z.enum(['manual', 'trigger', 'journey', 'import', 'merge']),
  }),
);

/**
 * A point trigger asks the journey context to enrol the contact in a journey (as the API's
 * enrollContact does: the journey needs an `api` entry trigger). `idempotencyKey` names the firing.
 */
export const journeyEnrollmentRequested = defineEvent(
  'crm.journey-enrollment.requested',
  1,
  'contact',
  z.object({ journeyId: z.uuid(), triggerId: z.uuid(), idempotencyKey: z.string().min(1).max(200) }),
);

// Segments and custom field definitions as others name them (a journey's conditions and steps):
// keyed by the segment or the field definition, so the changes to one keep their order.
const segment = z.object({ kind: z.enum(['dynamic', 'static']), name: z.string().min(1).max(200) });

export const segmentCreated = defineEvent('crm.segment.created', 1, 'segment', segment);
/** Its name or its filter changed (a filter change rebuilds it: entered/exited events follow). */
export const segmentUpdated = defineEvent('crm.segment.updated', 1, 'segment', segment);
/** Its members left it with it: no crm.segment.exited follows for them. */
export const segmentDeleted = defineEvent('crm.segment.deleted', 1, 'segment', segment);

const field = z.object({
  entity: z.enum(['contact', 'company']),
  /** Contact fields are read as `fields.<key>`. */
  key: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  /** text, number, boolean, date, datetime, select... (CRM's field types). */
  type: z.string().min(1).max(40),
  /** number: digits kept after the point; select, multiselect, lookup: the choices. */
  options: z.object({ scale: z.number().int().optional(), choices: z.array(z.string()).optional() }),
});

export const fieldCreated = defineEvent('crm.field.created', 1, 'field', field);
/** The definition is gone, and every value stored under its key with it. */
export const fieldDeleted = defineEvent('crm.field.deleted', 1, 'field', field);

const importCounts = {
  rowsDone: z.number().int().min(0),
  rowsFailed: z.number().int().min(0),
  rowsCreated: z.number().int().min(0),
  rowsUpdated: z.number().int().min(0),
};

/** A batch of a contact import's rows was written: the totals so far, and how much of the file was read. */
export const importProgressed = defineEvent(
  'crm.import.progressed',
  1,
  'import',
  z.object({ ...importCounts, percent: z.number().min(0).max(100).nullable() }),
);

/** A contact import ended: completed, or failed and why (a database failure, a file that is not CSV). */
export const importFinished = defineEvent(
  'crm.import.finished',
  1,
  'import',
  z.object({ ...importCounts, status: z.enum(['completed', 'failed']), error: z.string().nullable() }),
);
