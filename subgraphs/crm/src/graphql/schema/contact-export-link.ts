// ContactExportLink: a short-lived link that streams a contact export; and the export as one CSV string.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { ContactExportLink } from '../../app/export-contacts.ts';
import { builder, services } from '../builder.ts';

const ContactExportLinkType = builder.objectRef<ContactExportLink>('ContactExportLink').implement({
  description: 'A short-lived link that streams a contact export as CSV',
  fields: (t) => ({
    url: t.exposeString('url', {
      description: 'GET it from the server that serves the graph (path and query; relative to its origin)',
    }),
    token: t.exposeString('token'),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', description: 'Start the download before this' }),
  }),
});

builder.mutationField('createContactExport', (t) =>
  t.field({
    type: ContactExportLinkType,
    description: 'A download link for the contacts of a segment or matching a filter (every contact without either)',
    args: {
      input: t.arg({
        type: builder.inputType('CreateContactExportInput', {
          fields: (f) => ({
            segmentId: f.id(),
            filter: f.field({ type: 'JSON', description: 'A segment filter tree' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createContactExport(ctx.request, {
          ...(input.segmentId != null ? { segmentId: String(input.segmentId) } : {}),
          ...(input.filter != null ? { filter: input.filter } : {}),
        }),
      ),
  }),
);

builder.queryField('exportContacts', (t) =>
  t.string({
    description: 'The contacts matching a filter (all without one) as CSV, one column per custom field',
    args: { filter: t.arg({ type: 'JSON' }) },
    resolve: async (_, { filter }, ctx) =>
      orThrow(await services(ctx).exportContacts(ctx.request, filter ?? undefined)),
  }),
);
