// Point rules: what a contact's activity is worth in points.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import { POINT_TRIGGERS, type PointRuleRow, type PointTrigger } from '../../app/point-rules.ts';
import { builder, services } from '../builder.ts';

/** delivery.message.opened <-> DELIVERY_MESSAGE_OPENED */
const toEnum = (trigger: string) => trigger.replaceAll('.', '_').toUpperCase();
const TRIGGER_BY_ENUM = new Map(POINT_TRIGGERS.map((t) => [toEnum(t), t]));
const fromEnum = (value: string): PointTrigger => TRIGGER_BY_ENUM.get(value)!;

const PointTriggerEnum = builder.enumType('PointRuleEvent', {
  description: 'What a point rule reacts to: an event on the contact timeline',
  values: POINT_TRIGGERS.map(toEnum) as [string, ...string[]],
});

const PointRule = builder.objectRef<PointRuleRow>('PointRule').implement({
  description: "Changes a contact's points when an event lands on its timeline",
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    eventType: t.field({ type: PointTriggerEnum, resolve: (r) => toEnum(r.eventType) as never }),
    customName: t.exposeString('customName', { nullable: true, description: 'CUSTOM rules: the event name' }),
    delta: t.exposeInt('delta'),
    maxPerContact: t.exposeInt('maxPerContact', { nullable: true, description: 'null: no limit' }),
    active: t.exposeBoolean('active'),
    groupId: t.exposeID('groupId', {
      nullable: true,
      description: 'The point group it scores; null: the default points',
    }),
    subject: t.exposeString('subject', {
      nullable: true,
      description:
        'Only this template id (message events), form id (FORM_SUBMITTED) or page URL pattern with * (PAGE_VISITED)',
    }),
    propertyName: t.exposeString('propertyName', {
      nullable: true,
      description: 'CUSTOM rules: only events with this property...',
    }),
    propertyValue: t.exposeString('propertyValue', {
      nullable: true,
      description: '...equal to this value (compared as text)',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('pointRules', (t) =>
  t.field({
    type: [PointRule],
    resolve: async (_, __, ctx) => orThrow(await services(ctx).listPointRules(ctx.request)),
  }),
);

builder.queryField('pointRule', (t) =>
  t.field({
    type: PointRule,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getPointRule(ctx.request, String(id))),
  }),
);

builder.mutationField('createPointRule', (t) =>
  t.field({
    type: PointRule,
    description: 'Admins only',
    args: {
      input: t.arg({
        type: builder.inputType('CreatePointRuleInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            eventType: f.field({ type: PointTriggerEnum, required: true }),
            customName: f.string({ description: 'Required for CUSTOM, the custom event name; not allowed otherwise' }),
            delta: f.int({ required: true, description: 'Points added (negative: taken away); not 0' }),
            maxPerContact: f.int({ description: 'Apply at most this many times per contact' }),
            active: f.boolean({ defaultValue: true }),
            groupId: f.id({ description: "A point group's score instead of the default points" }),
            subject: f.string({ description: 'Only this template id, form id, or page URL pattern (* wildcards)' }),
            propertyName: f.string({ description: 'CUSTOM: only events whose property of this name...' }),
            propertyValue: f.string({ description: '...equals this (as text)' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createPointRule(ctx.request, {
          name: input.name,
          eventType: fromEnum(input.eventType),
          customName: input.customName ?? null,
          delta: input.delta,
          maxPerContact: input.maxPerContact ?? null,
          active: input.active ?? true,
          groupId: input.groupId == null ? null : String(input.groupId),
          subject: input.subject ?? null,
          propertyName: input.propertyName ?? null,
          propertyValue: input.propertyValue ?? null,
        }),
      ),
  }),
);

builder.mutationField('updatePointRule', (t) =>
  t.field({
    type: PointRule,
    description: 'Changes the fields given (a null clears customName or maxPerContact). Admins only.',
    args: {
      input: t.arg({
        type: builder.inputType('UpdatePointRuleInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            name: f.string(),
            eventType: f.field({ type: PointTriggerEnum }),
            customName: f.string(),
            delta: f.int(),
            maxPerContact: f.int(),
            active: f.boolean(),
            subject: f.string(),
            propertyName: f.string(),
            propertyValue: f.string(),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).updatePointRule(ctx.request, String(input.id), {
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.eventType != null ? { eventType: fromEnum(input.eventType) } : {}),
          ...(input.customName !== undefined ? { customName: input.customName } : {}),
          ...(input.delta != null ? { delta: input.delta } : {}),
          ...(input.maxPerContact !== undefined ? { maxPerContact: input.maxPerContact } : {}),
          ...(input.active != null ? { active: input.active } : {}),
          ...(input.subject !== undefined ? { subject: input.subject } : {}),
          ...(input.propertyName !== undefined ? { propertyName: input.propertyName } : {}),
          ...(input.propertyValue !== undefined ? { propertyValue: input.propertyValue } : {}),
        }),
      ),
  }),
);

builder.mutationField('deletePointRule', (t) =>
  t.field({
    type: PointRule,
    description: 'Admins only; points already given stay',
    args: {
      input: t.arg({
        type: builder.inputType('DeletePointRuleInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deletePointRule(ctx.request, String(input.id))),
  }),
);
