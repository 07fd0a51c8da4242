// Sources of Segment-compatible calls (POST /v1/track etc.), each with its write key.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { SourceRow, SourceWithKey } from '../../app/sources.ts';
import { builder, services } from '../builder.ts';

export const Source = builder.objectRef<SourceRow>('Source').implement({
  description: 'Where Segment-style calls come from (a website, an app, a backend), authenticated by its write key.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    writeKeyPrefix: t.exposeString('writeKeyPrefix', { description: "The write key's first characters" }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const SourceWithWriteKey = builder.objectRef<SourceWithKey>('SourceWithWriteKey').implement({
  description: 'A source and its write key, shown this once: only its hash is kept.',
  fields: (t) => ({
    source: t.field({ type: Source, resolve: (s) => s }),
    writeKey: t.exposeString('writeKey', {
      description: 'The Basic-auth user (empty password) of calls to /v1/*, as Segment clients send it',
    }),
  }),
});

builder.queryField('source', (t) =>
  t.field({
    type: Source,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getSource(ctx.request, String(id))),
  }),
);

builder.queryField('sources', (t) =>
  t.connection(
    {
      type: Source,
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listSources(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('SourceConnection'),
  ),
);

builder.mutationField('createSource', (t) =>
  t.field({
    type: SourceWithWriteKey,
    description: 'A new source and its write key (integrations:admin)',
    args: {
      input: t.arg({
        type: builder.inputType('CreateSourceInput', { fields: (f) => ({ name: f.string({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).createSource(ctx.request, { name: input.name })),
  }),
);

const SourceIdInput = (name: string) => builder.inputType(name, { fields: (f) => ({ id: f.id({ required: true }) }) });

builder.mutationField('rollSourceWriteKey', (t) =>
  t.field({
    type: SourceWithWriteKey,
    description: 'A new write key for the source; the old one is refused from now on (integrations:admin)',
    args: { input: t.arg({ type: SourceIdInput('RollSourceWriteKeyInput'), required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).rollSourceWriteKey(ctx.request, { id: String(input.id) })),
  }),
);

builder.mutationField('deleteSource', (t) =>
  t.field({
    type: Source,
    description: 'Deletes the source; its write key is refused from now on (integrations:admin)',
    args: { input: t.arg({ type: SourceIdInput('DeleteSourceInput'), required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).deleteSource(ctx.request, { id: String(input.id) })),
  }),
);
