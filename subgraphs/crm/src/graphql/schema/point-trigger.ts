// Point triggers: what happens when a contact's score (default or a group's) reaches a threshold.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { PointTriggerRow } from '../../app/point-triggers.ts';
import type { PointTriggerAction } from '../../db/schema.ts';
import { builder, services } from '../builder.ts';

const ACTION_TYPES = [
  'add_tags',
  'change_stage',
  'add_to_segment',
  'enroll_in_journey',
  'notify_email',
  'notify_webhook',
] as const;

const ActionTypeEnum = builder.enumType('PointTriggerActionType', {
  values: ACTION_TYPES.map((t) => t.toUpperCase()) as [string, ...string[]],
});

const Action = builder.objectRef<PointTriggerAction>('PointTriggerAction').implement({
  description: 'What the trigger does; the fields of its type are set',
  fields: (t) => ({
    type: t.field({ type: ActionTypeEnum, resolve: (a) => a.type.toUpperCase() as never }),
    tags: t.stringList({ nullable: true, resolve: (a) => (a.type === 'add_tags' ? a.tags : null) }),
    stageId: t.id({ nullable: true, resolve: (a) => (a.type === 'change_stage' ? a.stageId : null) }),
    segmentId: t.id({ nullable: true, resolve: (a) => (a.type === 'add_to_segment' ? a.segmentId : null) }),
    journeyId: t.id({ nullable: true, resolve: (a) => (a.type === 'enroll_in_journey' ? a.journeyId : null) }),
    target: t.string({ nullable: true, resolve: (a) => (a.type === 'notify_email' ? a.target : null) }),
    templateId: t.id({ nullable: true, resolve: (a) => ('templateId' in a ? a.templateId : null) }),
  }),
});

const PointTrigger = builder.objectRef<PointTriggerRow>('PointTrigger').implement({
  description: "Does something once when a contact's score reaches a threshold (every time, if it repeats)",
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    groupId: t.exposeID('groupId', {
      nullable: true,
      description: 'The point group watched; null: the default points',
    }),
    threshold: t.exposeInt('threshold'),
    action: t.field({ type: Action, resolve: (r) => r.action }),
    repeat: t.exposeBoolean('repeat', { description: 'Fire at every upward crossing, not only the first' }),
    active: t.exposeBoolean('active'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('pointTriggers', (t) =>
  t.field({
    type: [PointTrigger],
    resolve: async (_, __, ctx) => orThrow(await services(ctx).listPointTriggers(ctx.request)),
  }),
);

const ActionInput = builder.inputType('PointTriggerActionInput', {
  description:
    'The type and its fields: ADD_TAGS tags; CHANGE_STAGE stageId; ADD_TO_SEGMENT segmentId (static); ENROLL_IN_JOURNEY journeyId (a journey with an api entry trigger); NOTIFY_EMAIL target (a member email) and templateId; NOTIFY_WEBHOOK templateId (a webhook template)',
  fields: (f) => ({
    type: f.field({ type: ActionTypeEnum, required: true }),
    tags: f.stringList(),
    stageId: f.id(),
    segmentId: f.id(),
    journeyId: f.id(),
    target: f.string(),
    templateId: f.id(),
  }),
});

builder.mutationField('createPointTrigger', (t) =>
  t.field({
    type: PointTrigger,
    description: 'Admins only',
    args: {
      input: t.arg({
        type: builder.inputType('CreatePointTriggerInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            groupId: f.id({ description: "Watch a point group's score instead of the default points" }),
            threshold: f.int({ required: true }),
            action: f.field({ type: ActionInput, required: true }),
            repeat: f.boolean({ defaultValue: false }),
            active: f.boolean({ defaultValue: true }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => {
      const { type, ...fields } = input.action;
      // The zod schema of the use case checks that the type's fields are there.
      const action = Object.fromEntries(
        Object.entries({ ...fields, type: type.toLowerCase() })
          .filter(([, v]) => v != null)
          .map(([k, v]) => [k, k === 'tags' || k === 'type' ? v : String(v)]),
      );
      return unwrap(
        await services(ctx).createPointTrigger(ctx.request, {
          name: input.name,
          groupId: input.groupId == null ? null : String(input.groupId),
          threshold: input.threshold,
          action: action as never,
          repeat: input.repeat ?? false,
          active: input.active ?? true,
        }),
      );
    },
  }),
);

builder.mutationField('deletePointTrigger', (t) =>
  t.field({
    type: PointTrigger,
    description: 'Admins only',
    args: {
      input: t.arg({
        type: builder.inputType('DeletePointTriggerInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deletePointTrigger(ctx.request, String(input.id))),
  }),
);
