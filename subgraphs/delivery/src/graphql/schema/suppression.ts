import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import { SUPPRESSION_REASONS, type SuppressionRow } from '../../app/suppressions.ts';
import { builder, services } from '../builder.ts';

const SuppressionChannel = builder.enumType('SuppressionChannel', { values: ['EMAIL', 'SMS'] as const });
const ReasonEnum = builder.enumType('SuppressionReason', {
  values: SUPPRESSION_REASONS.map((r) => r.toUpperCase()) as Uppercase<(typeof SUPPRESSION_REASONS)[number]>[],
});

const Suppression = builder.objectRef<SuppressionRow>('Suppression').implement({
  description: 'An address that is not sent to: never (hard bounce, complaint, manual) or no marketing (unsubscribe).',
  fields: (t) => ({
    id: t.exposeID('id'),
    channel: t.field({ type: SuppressionChannel, resolve: (s) => s.channel.toUpperCase() as never }),
    address: t.exposeString('address'),
    reason: t.field({ type: ReasonEnum, resolve: (s) => s.reason.toUpperCase() as never }),
    source: t.exposeString('source', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('suppressions', (t) =>
  t.connection(
    {
      type: Suppression,
      args: { channel: t.arg({ type: SuppressionChannel }), reason: t.arg({ type: ReasonEnum }) },
      resolve: async (_, args, ctx) =>
        orThrow(
          await services(ctx).listSuppressions(
            ctx.request,
            { channel: args.channel?.toLowerCase() ?? null, reason: args.reason?.toLowerCase() ?? null },
            pageWindow(args),
          ),
        ),
    },
    connectionWithTotalCount('SuppressionConnection'),
  ),
);

const SuppressionInput = builder.inputType('SuppressionInput', {
  fields: (t) => ({
    channel: t.field({ type: SuppressionChannel, required: true }),
    address: t.string({ required: true }),
    reason: t.field({ type: ReasonEnum, description: 'MANUAL when not given' }),
    source: t.string(),
  }),
});

builder.mutationField('addSuppression', (t) =>
  t.field({
    type: Suppression,
    args: { input: t.arg({ type: SuppressionInput, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).addSuppression(ctx.request, {
          channel: input.channel.toLowerCase() as 'email',
          address: input.address,
          ...(input.reason ? { reason: input.reason.toLowerCase() as 'manual' } : {}),
          ...(input.source ? { source: input.source } : {}),
        }),
      ),
  }),
);

builder.mutationField('removeSuppression', (t) =>
  t.field({
    type: Suppression,
    args: { channel: t.arg({ type: SuppressionChannel, required: true }), address: t.arg.string({ required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, args, ctx) =>
      unwrap(
        await services(ctx).removeSuppression(ctx.request, {
          channel: args.channel.toLowerCase() as 'email',
          address: args.address,
        }),
      ),
  }),
);
