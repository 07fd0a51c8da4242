import { orThrow } from '@mauntic/platform';
import type { DeliveryStats } from '../../app/messages.ts';
import { builder, services } from '../builder.ts';
import { SourceKindEnum } from './message.ts';

const Stats = builder.objectRef<DeliveryStats>('DeliveryStats').implement({
  description: 'Counts of messages. Opened and clicked count people; machine ones are apart.',
  fields: (t) => ({
    key: t.exposeString('key', { nullable: true, description: 'The template id, or `kind:id` of the source' }),
    queued: t.exposeInt('queued'),
    sent: t.exposeInt('sent'),
    delivered: t.exposeInt('delivered'),
    failed: t.exposeInt('failed'),
    skipped: t.exposeInt('skipped'),
    bounced: t.exposeInt('bounced'),
    bouncedDeadAddress: t.exposeInt('bouncedDeadAddress', { description: 'Bounced: the address is dead (suppressed)' }),
    bouncedBySender: t.exposeInt('bouncedBySender', {
      description: 'Bounced because of the sender (authentication, reputation, rate, content): the address stays good',
    }),
    complained: t.exposeInt('complained'),
    opened: t.exposeInt('opened'),
    clicked: t.exposeInt('clicked'),
    machineOpened: t.exposeInt('machineOpened'),
    machineClicked: t.exposeInt('machineClicked'),
  }),
});

builder.queryField('deliveryStats', (t) =>
  t.field({
    type: [Stats],
    args: {
      by: t.arg({
        type: builder.enumType('DeliveryStatsBy', { values: ['TEMPLATE', 'SOURCE'] as const }),
        required: true,
      }),
      templateId: t.arg.id(),
      sourceKind: t.arg({ type: SourceKindEnum }),
      sourceId: t.arg.string(),
    },
    resolve: async (_, args, ctx) =>
      orThrow(
        await services(ctx).deliveryStats(ctx.request, args.by === 'TEMPLATE' ? 'template' : 'source', {
          templateId: args.templateId ? String(args.templateId) : null,
          sourceKind: args.sourceKind?.toLowerCase() ?? null,
          sourceId: args.sourceId ?? null,
        }),
      ),
  }),
);
