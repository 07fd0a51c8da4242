import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { StageRow } from '../../app/contact-attributes.ts';
import type { FieldDefinitionRow } from '../../app/fields.ts';
import { FieldKeyTakenError } from '../../domain/errors.ts';
import { FIELD_TYPES } from '../../domain/field-types.ts';
import { builder, ErrorInterface, services } from '../builder.ts';
import { Contact } from './contact.ts';

builder.objectType(FieldKeyTakenError, {
  name: 'FieldKeyTakenError',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

const FieldTypeEnum = builder.enumType('FieldType', {
  values: FIELD_TYPES.map((t) => t.toUpperCase()) as Uppercase<(typeof FIELD_TYPES)[number]>[],
});
const FieldEntityEnum = builder.enumType('FieldEntity', { values: ['CONTACT', 'COMPANY'] as const });

const FieldDefinitionType = builder.objectRef<FieldDefinitionRow>('FieldDefinition').implement({
  description: 'A custom field of contacts or companies',
  fields: (t) => ({
    id: t.exposeID('id'),
    entity: t.field({ type: FieldEntityEnum, resolve: (f) => (f.entity === 'contact' ? 'CONTACT' : 'COMPANY') }),
    key: t.exposeString('key'),
    label: t.exposeString('label'),
    type: t.field({ type: FieldTypeEnum, resolve: (f) => f.type.toUpperCase() as never }),
    required: t.exposeBoolean('required'),
    scale: t.int({ nullable: true, resolve: (f) => f.options.scale ?? null }),
    choices: t.stringList({ nullable: true, resolve: (f) => f.options.choices ?? null }),
  }),
});

builder.queryField('fieldDefinitions', (t) =>
  t.field({
    type: [FieldDefinitionType],
    args: { entity: t.arg({ type: FieldEntityEnum }) },
    resolve: async (_, { entity }, ctx) =>
      orThrow(
        await services(ctx).listFields(
          ctx.request,
          entity ? (entity.toLowerCase() as 'contact' | 'company') : undefined,
        ),
      ),
  }),
);

const CreateFieldInput = builder.inputType('CreateFieldInput', {
  fields: (t) => ({
    entity: t.field({ type: FieldEntityEnum, required: true }),
    key: t.string({ required: true, description: 'lower_snake_case, unique per entity' }),
    label: t.string({ required: true }),
    type: t.field({ type: FieldTypeEnum, required: true }),
    required: t.boolean(),
    scale: t.int({ description: 'number fields: digits after the decimal point' }),
    choices: t.stringList({ description: 'select and multiselect: the allowed values' }),
  }),
});

builder.mutationField('createField', (t) =>
  t.field({
    type: FieldDefinitionType,
    args: { input: t.arg({ type: CreateFieldInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, FieldKeyTakenError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createField(ctx.request, {
          entity: input.entity.toLowerCase() as 'contact' | 'company',
          key: input.key,
          label: input.label,
          type: input.type.toLowerCase() as (typeof FIELD_TYPES)[number],
          required: input.required ?? false,
          ...(input.scale != null ? { scale: input.scale } : {}),
          ...(input.choices != null ? { choices: input.choices } : {}),
        }),
      ),
  }),
);

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
