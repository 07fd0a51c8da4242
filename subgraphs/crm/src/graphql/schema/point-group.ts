// Point groups: separate scores beside a contact's default points, each with its own rules and triggers.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { GroupScore, PointGroupRow } from '../../app/points.ts';
import { builder, services } from '../builder.ts';
import { loaders } from '../loaders.ts';
import { Contact } from './contact.ts';

export const PointGroup = builder.objectRef<PointGroupRow>('PointGroup').implement({
  description: 'A separate score, such as "product interest" or "engagement"',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const PointGroupScore = builder.objectRef<GroupScore>('PointGroupScore').implement({
  fields: (t) => ({
    group: t.field({ type: PointGroup, resolve: (s) => s.group }),
    points: t.exposeInt('points'),
  }),
});

builder.objectField(Contact, 'pointGroups', (t) =>
  t.field({
    type: [PointGroupScore],
    description: "The contact's score in every point group of the organization (0 where it has none)",
    resolve: (c, _, ctx) => loaders(ctx).groupScores.load({ organizationId: c.organizationId, contactId: c.id }),
  }),
);

builder.queryField('pointGroups', (t) =>
  t.field({
    type: [PointGroup],
    resolve: async (_, __, ctx) => orThrow(await services(ctx).listPointGroups(ctx.request)),
  }),
);

builder.mutationField('createPointGroup', (t) =>
  t.field({
    type: PointGroup,
    description: 'Admins only',
    args: {
      input: t.arg({
        type: builder.inputType('CreatePointGroupInput', { fields: (f) => ({ name: f.string({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).createPointGroup(ctx.request, input)),
  }),
);

builder.mutationField('deletePointGroup', (t) =>
  t.field({
    type: PointGroup,
    description: "Admins only; the group's scores, rules and triggers go with it",
    args: {
      input: t.arg({
        type: builder.inputType('DeletePointGroupInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deletePointGroup(ctx.request, String(input.id))),
  }),
);
