// FieldDefinition: a custom field of contacts or companies.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { FieldDefinitionRow } from '../../app/fields.ts';
import { FieldKeyTakenError } from '../../domain/errors.ts';
import { FIELD_TYPES } from '../../domain/field-types.ts';
import { builder, services } from '../builder.ts';

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

builder.mutationField('deleteField', (t) =>
  t.field({
    type: FieldDefinitionType,
    description:
      'Deletes a custom field and the values contacts or companies hold under its key; refused while a segment reads it',
    args: {
      input: t.arg({
        type: builder.inputType('DeleteFieldInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deleteField(ctx.request, String(input.id))),
  }),
);
