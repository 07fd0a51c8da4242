// Stage: a step of the organization's lifecycle that a contact is at.
import { unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { StageRow } from '../../app/contact-attributes.ts';
import { builder, services } from '../builder.ts';

const Stage = builder.objectRef<StageRow>('Stage').implement({
  fields: (t) => ({ id: t.exposeID('id'), name: t.exposeString('name'), position: t.exposeInt('position') }),
});

builder.queryField('stages', (t) =>
  t.field({
    type: [Stage],
    resolve: async (_, __, ctx) => orThrow(await services(ctx).listStages(ctx.request)),
  }),
);

builder.mutationField('createStage', (t) =>
  t.field({
    type: Stage,
    args: {
      input: t.arg({
        type: builder.inputType('CreateStageInput', {
          fields: (f) => ({ name: f.string({ required: true }), position: f.int({ required: true }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).createStage(ctx.request, input)),
  }),
);
