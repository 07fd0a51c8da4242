// What the journey context consumes from the bus: CRM's contact and segment membership events,
// kept as the journeys' copy of contacts (contacts-projection.ts), what contacts did, for
// behaviour conditions (activity-projection.ts), CRM's companies and contacts' links to them, for
// company conditions (companies-projection.ts), and what definitions may name, CRM's segments and
// custom fields and delivery's templates (definitions-projection.ts), and the enrolments CRM's
// point triggers ask for (enrollment-requests.ts). Each event is applied once
// per consumer group, so a redelivered event changes nothing.
import { catalogue } from '@mauntic/kernel';
import type { Subscription } from '@mauntic/platform';
import { ACTIVITY_CONSUMER, ACTIVITY_EVENTS, applyActivityEvent } from './activity-projection.ts';
import { applyCompanyEvent, COMPANIES_CONSUMER, COMPANY_EVENTS } from './companies-projection.ts';
import { applyCrmEvent, CRM_CONSUMER, CRM_EVENTS } from './contacts-projection.ts';
import { applyDefinitionEvent, DEFINITION_EVENTS, DEFINITIONS_CONSUMER } from './definitions-projection.ts';
import type { JourneyDeps } from './deps.ts';
import { applyEnrollmentRequest, ENROLLMENT_REQUESTS_CONSUMER } from './enrollment-requests.ts';

export const journeyConsumers = (deps: JourneyDeps): Subscription[] => [
  {
    group: CRM_CONSUMER,
    contexts: ['crm'],
    types: CRM_EVENTS.map((e) => e.type),
    handle: async (event) => {
      await applyCrmEvent(deps, event);
    },
  },
  {
    group: ACTIVITY_CONSUMER,
    contexts: ['crm', 'content', 'delivery'],
    types: ACTIVITY_EVENTS.map((e) => e.type),
    handle: async (event) => {
      await applyActivityEvent(deps, event);
    },
  },
  {
    group: COMPANIES_CONSUMER,
    contexts: ['crm'],
    types: COMPANY_EVENTS.map((e) => e.type),
    handle: async (event) => {
      await applyCompanyEvent(deps, event);
    },
  },
  {
    group: DEFINITIONS_CONSUMER,
    contexts: ['crm', 'delivery'],
    types: DEFINITION_EVENTS.map((e) => e.type),
    handle: async (event) => {
      await applyDefinitionEvent(deps, event);
    },
  },
  {
    group: ENROLLMENT_REQUESTS_CONSUMER,
    contexts: ['crm'],
    types: [catalogue.crm.journeyEnrollmentRequested.type],
    handle: async (event) => {
      await applyEnrollmentRequest(deps, event);
    },
  },
];
