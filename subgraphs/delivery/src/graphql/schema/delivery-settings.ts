import { unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import type { SettingsRow } from '../../app/settings.ts';
import { builder, services } from '../builder.ts';

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
