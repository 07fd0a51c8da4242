// What the journey context consumes from the bus: CRM's contact and segment events, kept as the
// journeys' copy of contacts (contacts-projection.ts). Each event is applied once per consumer
// group, so a redelivered event changes nothing.
//
// Not fed yet: the copies of CRM's segments and custom fields and of delivery's templates, which
// definitions are checked against, wait for those contexts to publish their changes as events.
import type { Subscription } from '@mauntic/platform';
import { applyCrmEvent, CRM_CONSUMER, CRM_EVENTS } from './contacts-projection.ts';
import type { JourneyDeps } from './deps.ts';

export const journeyConsumers = (deps: JourneyDeps): Subscription[] => [
  {
    group: CRM_CONSUMER,
    contexts: ['crm'],
    types: CRM_EVENTS.map((e) => e.type),
    handle: async (event) => {
      await applyCrmEvent(deps, event);
    },
  },
];
