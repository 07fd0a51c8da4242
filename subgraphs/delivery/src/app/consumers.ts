// What the delivery context consumes from the bus: CRM's contact events (and deleted custom
// fields), kept as delivery's copy of contacts, send requests that journeys and campaigns publish,
// and journeys' member notifications. Each handler applies an
// event once per consumer group, so a redelivered event changes nothing.
import { catalogue } from '@mauntic/kernel';
import type { Subscription } from '@mauntic/platform';
import { applyCrmEvent, CRM_CONSUMER } from './contacts-projection.ts';
import type { DeliveryDeps } from './deps.ts';
import {
  applyNotificationRequest,
  applySendRequest,
  applySendRequests,
  NOTIFICATIONS_CONSUMER,
  REQUESTS_BATCH,
  REQUESTS_CONSUMER,
} from './send-requests.ts';

const crm = catalogue.crm;

export function deliveryConsumers(deps: DeliveryDeps): Subscription[] {
  return [
    {
      group: CRM_CONSUMER,
      contexts: ['crm'],
      types: [
        crm.contactCreated,
        crm.contactUpdated,
        crm.contactDeleted,
        crm.contactMerged,
        crm.dncChanged,
        crm.fieldDeleted,
      ].map((event) => event.type),
      handle: async (event) => {
        await applyCrmEvent(deps, event);
      },
    },
    {
      group: REQUESTS_CONSUMER,
      contexts: ['delivery'],
      types: [catalogue.delivery.messageRequested.type],
      handle: async (event) => {
        await applySendRequest(deps, event);
      },
      // Campaigns request thousands at once: one transaction per batch, not per request.
      batch: {
        maxEvents: REQUESTS_BATCH,
        handle: async (events) => {
          await applySendRequests(deps, events);
        },
      },
    },
    {
      group: NOTIFICATIONS_CONSUMER,
      contexts: ['journey'],
      types: [catalogue.journeyActions.notificationRequested.type],
      handle: async (event) => {
        await applyNotificationRequest(deps, event);
      },
    },
  ];
}
