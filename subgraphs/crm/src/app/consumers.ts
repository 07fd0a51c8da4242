// What the CRM context consumes from the bus: identity's members, content's form submissions and
// page visits, delivery's message events, and what journey steps ask of contacts. Each event is applied once per consumer group, its
// effect and the record that it was applied committing together, so a redelivered event changes
// nothing.
import type { EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type Subscription, type Transaction } from '@mauntic/platform';
import { processedEvents } from '../db/schema.ts';
import { applyContentEvent, CONTENT_EVENTS } from './content-events.ts';
import { applyDeliveryEvent, DELIVERY_EVENTS } from './delivery-events.ts';
import type { CrmDeps } from './deps.ts';
import { applyIdentityEvent, IDENTITY_EVENTS } from './identity-events.ts';
import { applyJourneyEvent, JOURNEY_EVENTS } from './journey-events.ts';
import { applySegmentEvent, SEGMENT_EVENTS } from './segment-events.ts';

export const DELIVERY_CONSUMER = 'crm-delivery';
export const CONTENT_CONSUMER = 'crm-content';
export const IDENTITY_CONSUMER = 'crm-identity';
export const JOURNEY_CONSUMER = 'crm-journey';
export const INTEGRATIONS_CONSUMER = 'crm-integrations';

type Handler = (tx: Transaction, deps: CrmDeps, event: EventEnvelope) => Promise<void>;

const once =
  (deps: CrmDeps, group: string, apply: Handler): Subscription['handle'] =>
  async (event) => {
    await applyOnce(deps.handle.db, processedEvents, group, event, (tx) => apply(tx, deps, event));
  };

export const crmSubscriptions = (deps: CrmDeps): Subscription[] => [
  {
    group: DELIVERY_CONSUMER,
    contexts: ['delivery'],
    types: DELIVERY_EVENTS.map((e) => e.type),
    handle: once(deps, DELIVERY_CONSUMER, applyDeliveryEvent),
  },
  {
    group: IDENTITY_CONSUMER,
    contexts: ['identity'],
    types: IDENTITY_EVENTS.map((e) => e.type),
    handle: once(deps, IDENTITY_CONSUMER, applyIdentityEvent),
  },
  {
    group: CONTENT_CONSUMER,
    contexts: ['content'],
    types: CONTENT_EVENTS.map((e) => e.type),
    handle: once(deps, CONTENT_CONSUMER, applyContentEvent),
  },
  {
    group: JOURNEY_CONSUMER,
    contexts: ['journey'],
    types: JOURNEY_EVENTS.map((e) => e.type),
    handle: once(deps, JOURNEY_CONSUMER, applyJourneyEvent),
  },
  {
    group: INTEGRATIONS_CONSUMER,
    contexts: ['integrations'],
    types: SEGMENT_EVENTS.map((e) => e.type),
    handle: once(deps, INTEGRATIONS_CONSUMER, applySegmentEvent),
  },
];
