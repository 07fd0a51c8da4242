// Content's events: forms and landing pages, as the content context will publish them and CRM
// (timeline, behavioural segments, point rules) consumes them. Keyed by the contact.
import { z } from 'zod';
import { defineEvent } from '../events/envelope.ts';

/** A submitted value: text, a number, a checkbox, or the choices of a multi-choice field. */
const submittedValue = z.union([
  z.string().max(65_536),
  z.number(),
  z.boolean(),
  z.array(z.string().max(1000)),
  z.null(),
]);

export const formSubmitted = defineEvent(
  'content.form.submitted',
  1,
  'contact',
  z.object({
    formId: z.uuid(),
    contactId: z.uuid(),
    /** The submitted values by the form's field names. */
    fields: z.record(z.string().min(1).max(200), submittedValue),
    /** The page the form was on, when it was embedded in one. */
    pageUrl: z.string().max(4096).nullable(),
  }),
);

export const pageVisited = defineEvent(
  'content.page.visited',
  1,
  'contact',
  z.object({
    contactId: z.uuid(),
    url: z.string().min(1).max(4096),
    referrer: z.string().max(4096).nullable(),
    /** The landing page, when the URL is one of content's own pages. */
    pageId: z.uuid().nullable(),
  }),
);
