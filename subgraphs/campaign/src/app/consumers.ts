// What the campaign context consumes from the bus: CRM's contact and segment membership events,
// kept as the audience's copy (contacts-projection.ts), and delivery's outcomes of campaign
// messages, counted as the campaigns' stats (campaign-stats.ts). Each event is applied once per
// consumer group, so a redelivered event changes nothing.
import type { Subscription } from '@mauntic/platform';
import { applyDeliveryEvent, STATS_CONSUMER, STATS_EVENTS } from './campaign-stats.ts';
import { applyCrmEvent, CRM_CONSUMER, CRM_EVENTS } from './contacts-projection.ts';
import type { CampaignDeps } from './deps.ts';

export const campaignConsumers = (deps: CampaignDeps): Subscription[] => [
  {
    group: CRM_CONSUMER,
    contexts: ['crm'],
    types: CRM_EVENTS.map((e) => e.type),
    handle: async (event) => {
      await applyCrmEvent(deps, event);
    },
  },
  {
    group: STATS_CONSUMER,
    contexts: ['delivery'],
    types: STATS_EVENTS,
    handle: async (event) => {
      await applyDeliveryEvent(deps, event);
    },
  },
];
