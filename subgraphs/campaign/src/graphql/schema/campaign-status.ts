// Where a campaign's lifecycle stands (domain/lifecycle.ts), and its channel.
import { builder } from '../builder.ts';

export const CampaignStatusEnum = builder.enumType('CampaignStatus', {
  values: {
    DRAFT: { value: 'draft', description: 'Being edited; not launched' },
    SCHEDULED: { value: 'scheduled', description: 'Launched; waits for its send time' },
    SENDING: { value: 'sending', description: 'Its send requests are being handed to delivery' },
    PAUSED: { value: 'paused', description: 'No further send request goes out until resumed' },
    COMPLETED: { value: 'completed', description: 'Every recipient was handed to delivery' },
    CANCELLED: { value: 'cancelled', description: 'Stopped for good' },
  } as const,
});

export const CampaignChannelEnum = builder.enumType('CampaignChannel', {
  values: {
    EMAIL: { value: 'email' },
    SMS: { value: 'sms' },
    PUSH: { value: 'push' },
  } as const,
});
