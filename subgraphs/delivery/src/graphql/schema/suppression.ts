import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { SettingsRow } from '../../app/settings.ts';
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

const FrequencyCap = builder
  .objectRef<{ channel: string; max: number; periodSeconds: number }>('FrequencyCap')
  .implement({
    description: 'At most `max` marketing messages per contact on a channel within `periodSeconds`.',
    fields: (t) => ({
      channel: t.exposeString('channel'),
      max: t.exposeInt('max'),
      periodSeconds: t.exposeInt('periodSeconds'),
    }),
  });

const QuietHours = builder.objectRef<{ start: string; end: string; mode: string }>('QuietHours').implement({
  description: "Hours (in the contact's time zone) marketing is not sent: deferred to the end, or dropped.",
  fields: (t) => ({ start: t.exposeString('start'), end: t.exposeString('end'), mode: t.exposeString('mode') }),
});

const DeliverySettings = builder.objectRef<SettingsRow>('DeliverySettings').implement({
  fields: (t) => ({
    frequencyCaps: t.field({
      type: [FrequencyCap],
      resolve: (s) => Object.entries(s.frequencyCaps).map(([channel, cap]) => ({ channel, ...cap })),
    }),
    quietHours: t.field({ type: QuietHours, nullable: true, resolve: (s) => s.quietHours }),
    defaultFromName: t.exposeString('defaultFromName', { nullable: true }),
    defaultFromAddress: t.exposeString('defaultFromAddress', { nullable: true }),
  }),
});

builder.queryField('deliverySettings', (t) =>
  t.field({
    type: DeliverySettings,
    resolve: async (_, __, ctx) => orThrow(await services(ctx).getSettings(ctx.request)),
  }),
);

const CapInput = builder.inputType('FrequencyCapInput', {
  fields: (t) => ({ max: t.int({ required: true }), periodSeconds: t.int({ required: true }) }),
});

builder.mutationField('updateDeliverySettings', (t) =>
  t.field({
    type: DeliverySettings,
    args: {
      input: t.arg({
        type: builder.inputType('DeliverySettingsInput', {
          fields: (f) => ({
            emailCap: f.field({ type: CapInput, description: 'null removes the cap' }),
            smsCap: f.field({ type: CapInput }),
            pushCap: f.field({ type: CapInput }),
            quietHours: f.field({
              type: builder.inputType('QuietHoursInput', {
                fields: (q) => ({
                  start: q.string({ required: true, description: 'HH:MM' }),
                  end: q.string({ required: true }),
                  mode: q.string({ required: true, description: 'defer or drop' }),
                }),
              }),
              description: 'null removes quiet hours',
            }),
            defaultFromName: f.string(),
            defaultFromAddress: f.string(),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => {
      const caps: Record<string, { max: number; periodSeconds: number } | null> = {};
      if (input.emailCap !== undefined) caps.email = input.emailCap;
      if (input.smsCap !== undefined) caps.sms = input.smsCap;
      if (input.pushCap !== undefined) caps.push = input.pushCap;
      return unwrap(
        await services(ctx).updateSettings(ctx.request, {
          frequencyCaps: caps,
          ...(input.quietHours !== undefined ? { quietHours: input.quietHours as never } : {}),
          ...(input.defaultFromName !== undefined ? { defaultFromName: input.defaultFromName } : {}),
          ...(input.defaultFromAddress !== undefined ? { defaultFromAddress: input.defaultFromAddress } : {}),
        }),
      );
    },
  }),
);
