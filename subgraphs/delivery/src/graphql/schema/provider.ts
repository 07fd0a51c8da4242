import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { ProviderRow } from '../../app/providers.ts';
import { ProviderNameTakenError } from '../../domain/errors.ts';
import { PROVIDER_KINDS, type ProviderKind } from '../../providers/index.ts';
import { builder, services } from '../builder.ts';
import { ChannelEnum } from './channel.ts';

const KindEnum = builder.enumType('ProviderKind', {
  values: PROVIDER_KINDS.map((k) => k.toUpperCase()) as Uppercase<ProviderKind>[],
});

const Provider = builder.objectRef<ProviderRow>('Provider').implement({
  description: 'A way out for messages. Secret settings are stored encrypted and never returned.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    kind: t.field({ type: KindEnum, resolve: (p) => p.kind.toUpperCase() as never }),
    channel: t.field({ type: ChannelEnum, resolve: (p) => p.channel.toUpperCase() as never }),
    settings: t.field({ type: 'JSON', description: 'The settings that are not secret', resolve: (p) => p.settings }),
    secretsSet: t.stringList({
      description: 'Names of the secret settings that have a value (values are never returned)',
      resolve: (p, _, ctx) => services(ctx).secretFieldsSet(p),
    }),
    isDefault: t.exposeBoolean('isDefault'),
    ratePerSecond: t.exposeInt('ratePerSecond', { nullable: true }),
    failoverProviderId: t.exposeID('failoverProviderId', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('providers', (t) =>
  t.connection(
    {
      type: Provider,
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listProviderConfigs(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('ProviderConnection'),
  ),
);

builder.mutationField('createProvider', (t) =>
  t.field({
    type: Provider,
    args: {
      input: t.arg({
        type: builder.inputType('CreateProviderInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            kind: f.field({ type: KindEnum, required: true }),
            config: f.field({ type: 'JSON', description: 'Settings and secrets, e.g. {host, port, user, pass}' }),
            isDefault: f.boolean(),
            ratePerSecond: f.int(),
            failoverProviderId: f.id(),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, ProviderNameTakenError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createProviderConfig(ctx.request, {
          name: input.name,
          kind: input.kind.toLowerCase() as ProviderKind,
          config: (input.config ?? {}) as Record<string, unknown>,
          isDefault: input.isDefault ?? false,
          ratePerSecond: input.ratePerSecond ?? null,
          failoverProviderId: input.failoverProviderId ? String(input.failoverProviderId) : null,
        }),
      ),
  }),
);

builder.mutationField('updateProvider', (t) =>
  t.field({
    type: Provider,
    args: {
      input: t.arg({
        type: builder.inputType('UpdateProviderInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            name: f.string(),
            config: f.field({ type: 'JSON', description: 'Fields to change; secrets left out are kept' }),
            isDefault: f.boolean(),
            ratePerSecond: f.int({ description: 'null removes the limit' }),
            failoverProviderId: f.id({ description: 'null removes the failover' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, ProviderNameTakenError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).updateProviderConfig(ctx.request, {
          id: String(input.id),
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.config != null ? { config: input.config as Record<string, unknown> } : {}),
          ...(input.isDefault != null ? { isDefault: input.isDefault } : {}),
          ...(input.ratePerSecond !== undefined ? { ratePerSecond: input.ratePerSecond } : {}),
          ...(input.failoverProviderId !== undefined
            ? { failoverProviderId: input.failoverProviderId ? String(input.failoverProviderId) : null }
            : {}),
        }),
      ),
  }),
);

builder.mutationField('deleteProvider', (t) =>
  t.field({
    type: Provider,
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { id }, ctx) => unwrap(await services(ctx).deleteProviderConfig(ctx.request, String(id))),
  }),
);
