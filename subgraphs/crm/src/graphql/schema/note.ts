// Note: a general, email, call or meeting note on a contact.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import type { NoteRow } from '../../app/notes.ts';
import { builder, services } from '../builder.ts';
import { loaders } from '../loaders.ts';
import { Contact } from './contact.ts';

const Note = builder.objectRef<NoteRow>('Note').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type', { description: 'general, email, call or meeting' }),
    body: t.exposeString('body'),
    createdBy: t.exposeID('createdBy', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.objectFields(Contact, (t) => ({
  notes: t.field({
    type: [Note],
    resolve: (c, _, ctx) => loaders(ctx).notes.load({ organizationId: c.organizationId, contactId: c.id }),
  }),
}));

const NoteTypeEnum = builder.enumType('NoteType', { values: ['GENERAL', 'EMAIL', 'CALL', 'MEETING'] as const });

builder.mutationField('addNote', (t) =>
  t.field({
    type: Note,
    args: {
      input: t.arg({
        type: builder.inputType('AddNoteInput', {
          fields: (f) => ({
            contactId: f.id({ required: true }),
            type: f.field({ type: NoteTypeEnum }),
            body: f.string({ required: true }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).addNote(ctx.request, {
          contactId: String(input.contactId),
          type: (input.type ?? 'GENERAL').toLowerCase() as 'general',
          body: input.body,
        }),
      ),
  }),
);
