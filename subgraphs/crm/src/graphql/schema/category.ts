// Category: a label segments are filed under (Mautic's categories), to filter segment lists.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { CategoryRow } from '../../app/categories.ts';
import { builder, services } from '../builder.ts';
import { Segment } from './segment.ts';

const Category = builder.objectRef<CategoryRow>('Category').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    color: t.exposeString('color', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('categories', (t) =>
  t.field({
    type: [Category],
    resolve: async (_, __, ctx) => orThrow(await services(ctx).listCategories(ctx.request)),
  }),
);

builder.mutationField('createCategory', (t) =>
  t.field({
    type: Category,
    args: {
      input: t.arg({
        type: builder.inputType('CreateCategoryInput', {
          fields: (f) => ({ name: f.string({ required: true }), color: f.string({ description: 'e.g. #1f77b4' }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).createCategory(ctx.request, { name: input.name, color: input.color ?? null })),
  }),
);

builder.mutationField('deleteCategory', (t) =>
  t.field({
    type: Category,
    description: 'Its segments stay, uncategorised',
    args: {
      input: t.arg({
        type: builder.inputType('DeleteCategoryInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deleteCategory(ctx.request, String(input.id))),
  }),
);

builder.mutationField('setSegmentCategory', (t) =>
  t.field({
    type: Segment,
    description: 'Files a segment under a category; a null categoryId takes it out of its category',
    args: {
      input: t.arg({
        type: builder.inputType('SetSegmentCategoryInput', {
          fields: (f) => ({ segmentId: f.id({ required: true }), categoryId: f.id() }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).setSegmentCategory(ctx.request, {
          segmentId: String(input.segmentId),
          categoryId: input.categoryId == null ? null : String(input.categoryId),
        }),
      ),
  }),
);
