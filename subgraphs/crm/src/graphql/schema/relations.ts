// Companies, notes, the timeline, custom events, merge and GDPR tools.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { ActivityRow } from '../../app/activities.ts';
import type { CompanyRow } from '../../app/companies.ts';
import type { NoteRow } from '../../app/notes.ts';
import { builder, services } from '../builder.ts';
import { Contact } from './contact.ts';

const Company = builder.objectRef<CompanyRow & { isPrimary?: boolean }>('Company').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    domain: t.exposeString('domain', { nullable: true }),
    fields: t.field({ type: 'JSON', resolve: (c) => c.fields }),
    isPrimary: t.boolean({
      nullable: true,
      description: "Set when read through a contact's companies",
      resolve: (c) => c.isPrimary ?? null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const Note = builder.objectRef<NoteRow>('Note').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type', { description: 'general, email, call or meeting' }),
    body: t.exposeString('body'),
    createdBy: t.exposeID('createdBy', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const Activity = builder.objectRef<ActivityRow>('Activity').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type'),
    subject: t.exposeString('subject', { nullable: true }),
    properties: t.field({ type: 'JSON', resolve: (a) => a.properties }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
  }),
});

const TimelinePage = builder
  .objectRef<{ items: ActivityRow[]; hasNextPage: boolean; endCursor: string | null }>('TimelinePage')
  .implement({
    fields: (t) => ({
      items: t.field({ type: [Activity], resolve: (p) => p.items }),
      hasNextPage: t.exposeBoolean('hasNextPage'),
      endCursor: t.exposeString('endCursor', { nullable: true }),
    }),
  });

builder.objectFields(Contact, (t) => ({
  companies: t.field({ type: [Company], resolve: (c, _, ctx) => services(ctx).companiesOf(c.organizationId, c.id) }),
  notes: t.field({ type: [Note], resolve: (c, _, ctx) => services(ctx).notesOf(c.organizationId, c.id) }),
  timeline: t.field({
    type: TimelinePage,
    description: 'What the contact did and what changed, newest first',
    args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
    resolve: (c, args, ctx) => services(ctx).timeline(c.organizationId, c.id, args.first ?? 20, args.after),
  }),
}));

builder.queryField('company', (t) =>
  t.field({
    type: Company,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getCompany(ctx.request, String(id))),
  }),
);

builder.queryField('companies', (t) =>
  t.connection(
    {
      type: Company,
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listCompanies(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('CompanyConnection'),
  ),
);

const CompanyInput = builder.inputType('CompanyInput', {
  fields: (t) => ({ name: t.string(), domain: t.string(), fields: t.field({ type: 'JSON' }) }),
});
const companyValues = (input: { name?: string | null; domain?: string | null; fields?: unknown }) => ({
  ...(input.name != null ? { name: input.name } : {}),
  ...(input.domain !== undefined ? { domain: input.domain } : {}),
  ...(input.fields != null ? { fields: input.fields as Record<string, unknown> } : {}),
});

builder.mutationField('createCompany', (t) =>
  t.field({
    type: Company,
    args: { input: t.arg({ type: CompanyInput, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).createCompany(ctx.request, companyValues(input))),
  }),
);

builder.mutationField('updateCompany', (t) =>
  t.field({
    type: Company,
    args: {
      input: t.arg({
        type: builder.inputType('UpdateCompanyInput', {
          fields: (f) => ({ id: f.id({ required: true }), set: f.field({ type: CompanyInput, required: true }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).updateCompany(ctx.request, String(input.id), companyValues(input.set))),
  }),
);

builder.mutationField('deleteCompany', (t) =>
  t.field({
    type: Company,
    description: 'Deletes a company and unlinks its contacts; segments reading companies follow',
    args: {
      input: t.arg({
        type: builder.inputType('DeleteCompanyInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deleteCompany(ctx.request, String(input.id))),
  }),
);

const LinkInput = builder.inputType('LinkCompanyInput', {
  fields: (t) => ({ contactId: t.id({ required: true }), companyId: t.id({ required: true }), primary: t.boolean() }),
});

for (const [field, link] of [
  ['linkCompany', true],
  ['unlinkCompany', false],
] as const) {
  builder.mutationField(field, (t) =>
    t.field({
      type: Contact,
      description: link
        ? 'Links a contact to a company (primary: its one primary company); returns the contact'
        : 'Unlinks a contact from a company; returns the contact',
      args: { input: t.arg({ type: LinkInput, required: true }) },
      errors: { types: [...COMMON_ERRORS, NotFoundError] },
      resolve: async (_, { input }, ctx) =>
        unwrap(
          await services(ctx).linkCompany(
            ctx.request,
            { contactId: String(input.contactId), companyId: String(input.companyId), primary: input.primary ?? false },
            link,
          ),
        ).contact,
    }),
  );
}

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

const Tracked = builder
  .objectRef<{ contactId: string; subject?: string | null; occurredAt?: Date }>('TrackedEvent')
  .implement({
    fields: (t) => ({
      contactId: t.exposeID('contactId'),
      name: t.string({ resolve: (e) => e.subject ?? '' }),
      occurredAt: t.field({ type: 'DateTime', resolve: (e) => e.occurredAt ?? new Date() }),
    }),
  });

builder.mutationField('trackContactEvent', (t) =>
  t.field({
    type: Tracked,
    description: 'Records a custom event for a contact (by id or email); segments can filter on it',
    args: {
      input: t.arg({
        type: builder.inputType('TrackContactEventInput', {
          fields: (f) => ({
            contactId: f.id(),
            email: f.string(),
            name: f.string({ required: true }),
            properties: f.field({ type: 'JSON' }),
            occurredAt: f.field({ type: 'DateTime' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).trackContactEvent(ctx.request, {
          ...(input.contactId ? { contactId: String(input.contactId) } : {}),
          ...(input.email ? { email: input.email } : {}),
          name: input.name,
          properties: (input.properties ?? {}) as Record<string, unknown>,
          ...(input.occurredAt ? { occurredAt: input.occurredAt } : {}),
        }),
      ),
  }),
);

builder.mutationField('mergeContacts', (t) =>
  t.field({
    type: Contact,
    description:
      "Merges the loser into the winner: the winner's values win, the loser's fill the gaps; history moves over",
    args: {
      input: t.arg({
        type: builder.inputType('MergeContactsInput', {
          fields: (f) => ({ winnerId: f.id({ required: true }), loserId: f.id({ required: true }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).mergeContacts(ctx.request, {
          winnerId: String(input.winnerId),
          loserId: String(input.loserId),
        }),
      ),
  }),
);

builder.queryField('exportContactData', (t) =>
  t.field({
    type: 'JSON',
    description: 'Everything held about one contact, as one JSON document (GDPR right of access)',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).exportContactData(ctx.request, String(id))),
  }),
);

const Erased = builder
  .objectRef<{ id: string }>('ErasedContact')
  .implement({ fields: (t) => ({ id: t.exposeID('id') }) });

builder.mutationField('eraseContact', (t) =>
  t.field({
    type: Erased,
    description: 'Erases a contact (GDPR): personal data goes, anonymous activity stays for reports. Admins only.',
    args: {
      input: t.arg({
        type: builder.inputType('EraseContactInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).eraseContact(ctx.request, String(input.id))),
  }),
);
