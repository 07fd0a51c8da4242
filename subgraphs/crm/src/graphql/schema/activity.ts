// Activity: what a contact did and what changed, read as its timeline; custom events recorded on it.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import { GraphQLError } from 'graphql';
import type { ActivityRow, TimelinePage as Page } from '../../app/activities.ts';
import { builder, services } from '../builder.ts';
import { Contact } from './contact.ts';

const Activity = builder.objectRef<ActivityRow>('Activity').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.exposeString('type'),
    subject: t.exposeString('subject', { nullable: true }),
    properties: t.field({ type: 'JSON', resolve: (a) => a.properties }),
    occurredAt: t.expose('occurredAt', { type: 'DateTime' }),
  }),
});

const TimelinePage = builder.objectRef<Page>('TimelinePage').implement({
  fields: (t) => ({
    items: t.field({ type: [Activity], resolve: (p) => p.items }),
    hasNextPage: t.exposeBoolean('hasNextPage'),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

builder.objectFields(Contact, (t) => ({
  timeline: t.field({
    type: TimelinePage,
    description: 'What the contact did and what changed, newest first',
    args: { first: t.arg.int({ defaultValue: 20 }), after: t.arg.string() },
    resolve: async (c, args, ctx) => {
      const page = await services(ctx).timeline(c.organizationId, c.id, args.first ?? 20, args.after);
      // Like any connection's cursor: a query field answers bad paging input with BAD_USER_INPUT.
      if (!page.ok)
        throw new GraphQLError(page.error.message, {
          extensions: { code: 'BAD_USER_INPUT', issues: page.error.issues },
        });
      return page.value;
    },
  }),
}));

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
