// CRM's Contact, which delivery only references: messages and push tokens point at one by id.
import { builder } from '../builder.ts';

/** A CRM contact, referenced by id. */
export const ContactRef = builder.externalRef('Contact', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: () => ({}),
});
