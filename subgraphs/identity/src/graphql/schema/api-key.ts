import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { ApiKeyRow } from '../../app/api-keys.ts';
import { builder, services } from '../builder.ts';
import { User } from './user.ts';

export const ApiKey = builder.objectRef<ApiKeyRow>('ApiKey').implement({
  description: 'A key for integrations. Its secret is shown only once, when it is created.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    prefix: t.string({
      description: 'The public start of the key (mk_<prefix>_...), to recognise it',
      resolve: (k) => k.prefix,
    }),
    scopes: t.exposeStringList('scopes'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    createdBy: t.field({
      type: User,
      nullable: true,
      resolve: async (k, _, ctx) => orThrow(await services(ctx).findMemberUser(ctx.request, k.createdBy)),
    }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.connection(
    {
      type: ApiKey,
      description: "The organization's API keys, newest first",
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listApiKeys(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('ApiKeyConnection'),
  ),
);

const CreatedApiKey = builder.objectRef<{ apiKey: ApiKeyRow; secret: string }>('CreatedApiKey').implement({
  fields: (t) => ({
    apiKey: t.field({ type: ApiKey, resolve: (c) => c.apiKey }),
    secret: t.string({
      description: 'The key itself. Shown once; store it now. Send it as `Authorization: Bearer <secret>`.',
      resolve: (c) => c.secret,
    }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.stringList({
      required: true,
      description: 'e.g. ["crm:read", "crm:write"]; "*:read" covers every context',
    }),
  }),
});

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreatedApiKey,
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).createApiKey(ctx.request, input)),
  }),
);

const RevokeApiKeyInput = builder.inputType('RevokeApiKeyInput', { fields: (t) => ({ id: t.id({ required: true }) }) });

builder.mutationField('revokeApiKey', (t) =>
  t.field({
    type: ApiKey,
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).revokeApiKey(ctx.request, { id: String(input.id) })),
  }),
);
