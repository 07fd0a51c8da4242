// Contact: a person marketing talks to, the queries that read contacts and the mutations that return one.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow } from '@mauntic/platform';
import { GraphQLError } from 'graphql';
import { CONTACT_SORTS } from '../../app/contact-queries.ts';
import type { ContactInput } from '../../app/contact-values.ts';
import type { ContactRow } from '../../app/contacts.ts';
import { ContactEmailTakenError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';
import { loaders } from '../loaders.ts';

/** A user of the identity context, referenced by id (the owner of a contact). */
export const UserRef = builder.externalRef('User', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: () => ({}),
});

export const DncEntry = builder
  .objectRef<{ channel: string; reason: string; source: string | null; createdAt: Date }>('DoNotContact')
  .implement({
    fields: (t) => ({
      channel: t.exposeString('channel', { description: 'email, sms or push' }),
      reason: t.exposeString('reason', { description: 'unsubscribed, bounced, complaint or manual' }),
      source: t.exposeString('source', { nullable: true }),
      createdAt: t.expose('createdAt', { type: 'DateTime' }),
    }),
  });

export const Contact = builder.objectRef<ContactRow>('Contact').implement({
  description: 'A person marketing talks to.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email', { nullable: true }),
    firstName: t.exposeString('firstName', { nullable: true }),
    lastName: t.exposeString('lastName', { nullable: true }),
    phone: t.exposeString('phone', { nullable: true, description: 'E.164' }),
    timezone: t.exposeString('timezone', { nullable: true }),
    locale: t.exposeString('locale', { nullable: true }),
    owner: t.field({ type: UserRef, nullable: true, resolve: (c) => (c.ownerId ? { id: c.ownerId } : null) }),
    stageId: t.exposeID('stageId', { nullable: true }),
    points: t.exposeInt('points'),
    fields: t.field({ type: 'JSON', description: 'Custom field values by key', resolve: (c) => c.fields }),
    tags: t.exposeStringList('tags'),
    doNotContact: t.field({
      type: [DncEntry],
      resolve: (c, _, ctx) => loaders(ctx).doNotContact.load({ organizationId: c.organizationId, contactId: c.id }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    lastActiveAt: t.expose('lastActiveAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.asEntity(Contact, {
  key: builder.selection<{ id: string }>('id'),
  // The gateway resolving a contact for another subgraph: the same check as the contact query.
  resolveReference: async (ref, ctx) => orThrow(await services(ctx).getContact(ctx.request, ref.id)),
});

export const ContactInputType = builder.inputType('ContactInput', {
  fields: (t) => ({
    email: t.string(),
    firstName: t.string(),
    lastName: t.string(),
    phone: t.string({ description: 'Any common format; stored as E.164' }),
    timezone: t.string(),
    locale: t.string(),
    ownerId: t.id(),
    stageId: t.id(),
    fields: t.field({ type: 'JSON', description: 'Custom field values by key; null clears one' }),
    tags: t.stringList({ description: 'Replaces the tags' }),
  }),
});

type GqlContactInput = typeof ContactInputType.$inferInput;

export const toContactInput = (input: GqlContactInput): ContactInput => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input))
    if (v !== undefined) out[k] = v === null ? null : k.endsWith('Id') ? String(v) : v;
  return out as ContactInput;
};

const ContactSortEnum = builder.enumType('ContactSort', {
  values: Object.keys(CONTACT_SORTS) as (keyof typeof CONTACT_SORTS)[],
});

const SortDirectionEnum = builder.enumType('SortDirection', { values: ['ASC', 'DESC'] as const });

const ContactFieldSortInput = builder.inputType('ContactFieldSortInput', {
  fields: (t) => ({
    key: t.string({ required: true, description: 'A contact custom field key (not multiselect)' }),
    direction: t.field({ type: SortDirectionEnum, defaultValue: 'ASC' }),
  }),
});

builder.queryField('contact', (t) =>
  t.field({
    type: Contact,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getContact(ctx.request, String(id))),
  }),
);

builder.queryField('contacts', (t) =>
  t.connection(
    {
      type: Contact,
      description: 'Contacts, optionally filtered with a segment filter tree and sorted',
      args: {
        filter: t.arg({ type: 'JSON' }),
        sort: t.arg({ type: ContactSortEnum }),
        sortByField: t.arg({
          type: ContactFieldSortInput,
          description: 'Sort by a custom field instead of `sort`; contacts without a value come last',
        }),
      },
      resolve: async (_, args, ctx) => {
        if (args.last != null || args.before != null)
          throw new GraphQLError('Only forward paging (first/after) is supported', {
            extensions: { code: 'BAD_USER_INPUT' },
          });
        return orThrow(
          await services(ctx).listContacts(ctx.request, {
            filter: args.filter ?? undefined,
            sort: args.sort ?? undefined,
            ...(args.sortByField
              ? {
                  sortByField: {
                    key: args.sortByField.key,
                    direction: args.sortByField.direction === 'DESC' ? ('desc' as const) : ('asc' as const),
                  },
                }
              : {}),
            first: args.first,
            after: args.after,
          }),
        );
      },
    },
    connectionWithTotalCount('ContactConnection'),
  ),
);

builder.queryField('exportContactData', (t) =>
  t.field({
    type: 'JSON',
    description: 'Everything held about one contact, as one JSON document (GDPR right of access)',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).exportContactData(ctx.request, String(id))),
  }),
);

builder.mutationField('createContact', (t) =>
  t.field({
    type: Contact,
    args: { input: t.arg({ type: ContactInputType, required: true }) },
    errors: { types: [...COMMON_ERRORS, ContactEmailTakenError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).createContact(ctx.request, toContactInput(input))),
  }),
);

const UpdateContactInput = builder.inputType('UpdateContactInput', {
  fields: (t) => ({ id: t.id({ required: true }), set: t.field({ type: ContactInputType, required: true }) }),
});

builder.mutationField('updateContact', (t) =>
  t.field({
    description: 'Changes only what `set` names; a null clears it',
    type: Contact,
    args: { input: t.arg({ type: UpdateContactInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, ContactEmailTakenError, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).updateContact(ctx.request, String(input.id), toContactInput(input.set))),
  }),
);

const UpsertedContact = builder.objectRef<{ row: ContactRow; created: boolean }>('UpsertedContact').implement({
  fields: (t) => ({
    contact: t.field({ type: Contact, resolve: (u) => u.row }),
    created: t.exposeBoolean('created'),
  }),
});

builder.mutationField('upsertContact', (t) =>
  t.field({
    description: 'Creates the contact with this email, or updates it (case-insensitive match)',
    type: UpsertedContact,
    args: { input: t.arg({ type: ContactInputType, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).upsertContact(ctx.request, { ...toContactInput(input), email: input.email ?? '' })),
  }),
);

const Deleted = builder
  .objectRef<{ id: string }>('DeletedContact')
  .implement({ fields: (t) => ({ id: t.exposeID('id') }) });

builder.mutationField('deleteContact', (t) =>
  t.field({
    type: Deleted,
    args: {
      input: t.arg({
        type: builder.inputType('DeleteContactInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deleteContact(ctx.request, String(input.id))),
  }),
);

builder.mutationField('tagContact', (t) =>
  t.field({
    type: Contact,
    args: {
      input: t.arg({
        type: builder.inputType('TagContactInput', {
          fields: (f) => ({ contactId: f.id({ required: true }), add: f.stringList(), remove: f.stringList() }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).tagContact(ctx.request, {
          contactId: String(input.contactId),
          add: input.add ?? [],
          remove: input.remove ?? [],
        }),
      ),
  }),
);

builder.mutationField('adjustPoints', (t) =>
  t.field({
    type: Contact,
    args: {
      input: t.arg({
        type: builder.inputType('AdjustPointsInput', {
          fields: (f) => ({
            contactId: f.id({ required: true }),
            delta: f.int({ required: true }),
            reason: f.string(),
            groupId: f.id({ description: "A point group's score instead of the default points" }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).adjustPoints(ctx.request, {
          contactId: String(input.contactId),
          delta: input.delta,
          ...(input.reason ? { reason: input.reason } : {}),
          ...(input.groupId ? { groupId: String(input.groupId) } : {}),
        }),
      ),
  }),
);

const ChannelEnum = builder.enumType('Channel', { values: ['EMAIL', 'SMS', 'PUSH'] as const });

const DncReasonEnum = builder.enumType('DoNotContactReason', {
  values: ['UNSUBSCRIBED', 'BOUNCED', 'COMPLAINT', 'MANUAL'] as const,
});

builder.mutationField('setDoNotContact', (t) =>
  t.field({
    type: Contact,
    description: 'Marks or clears do-not-contact on a channel; returns the contact (see doNotContact)',
    args: {
      input: t.arg({
        type: builder.inputType('SetDoNotContactInput', {
          fields: (f) => ({
            contactId: f.id({ required: true }),
            channel: f.field({ type: ChannelEnum, required: true }),
            doNotContact: f.boolean({ required: true }),
            reason: f.field({ type: DncReasonEnum }),
            source: f.string(),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).setDoNotContact(ctx.request, {
          contactId: String(input.contactId),
          channel: input.channel.toLowerCase() as 'email',
          doNotContact: input.doNotContact,
          ...(input.reason ? { reason: input.reason.toLowerCase() as 'manual' } : {}),
          ...(input.source ? { source: input.source } : {}),
        }),
      ),
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
