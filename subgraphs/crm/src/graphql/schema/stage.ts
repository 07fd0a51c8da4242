// Stage: a step of the organization's lifecycle that a contact is at.
import { unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { StageRow } from '../../app/contact-attributes.ts';
import type { StageChangeRow } from '../../app/stages.ts';
import { builder, services } from '../builder.ts';
import { loaders } from '../loaders.ts';
import { Contact } from './contact.ts';

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

const StageChangeReason = builder.enumType('StageChangeReason', {
  values: {
    MANUAL: { value: 'manual' },
    TRIGGER: { value: 'trigger' },
    JOURNEY: { value: 'journey' },
    IMPORT: { value: 'import', description: "A contact import's row set it" },
    MERGE: { value: 'merge', description: 'A merge gave the contact the stage of the contact merged into it' },
  } as const,
});

const StageChange = builder.objectRef<StageChangeRow>('StageChange').implement({
  description: 'One move of a contact along the stage pipeline',
  fields: (t) => ({
    fromStageId: t.exposeID('fromStageId', { nullable: true }),
    toStageId: t.exposeID('toStageId', { nullable: true }),
    changedAt: t.expose('changedAt', { type: 'DateTime' }),
    reason: t.field({ type: StageChangeReason, resolve: (c) => c.reason }),
    actor: t.exposeString('actor', {
      nullable: true,
      description: 'The user or API key, `point-trigger:<id>`, or the journey requests caller',
    }),
  }),
});

builder.objectField(Contact, 'stageHistory', (t) =>
  t.field({
    type: [StageChange],
    description: 'Every stage change of the contact, oldest first',
    resolve: (c, _, ctx) => loaders(ctx).stageHistory.load({ organizationId: c.organizationId, contactId: c.id }),
  }),
);
