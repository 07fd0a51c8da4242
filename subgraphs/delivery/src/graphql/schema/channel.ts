// The channels a message, a template and a provider belong to.
import { builder } from '../builder.ts';

export const ChannelEnum = builder.enumType('DeliveryChannel', {
  values: ['EMAIL', 'SMS', 'PUSH', 'WEBHOOK'] as const,
});
