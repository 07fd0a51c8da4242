// Enrolments CRM's point triggers ask for (crm.journey-enrollment.requested): the same as the
// API's enrollContact, as the organization's system caller, once per event however often it
// arrives. What enrollContact refuses (no such journey, not active, no api entry trigger) is
// logged, once, with the request.
import { catalogue, type EventEnvelope, type OrganizationId, type RequestContext } from '@mauntic/kernel';
import { applyOnce } from '@mauntic/platform';
import { processedEvents } from '../db/schema.ts';
import type { JourneyDeps } from './deps.ts';
import { enrollContact } from './enrollment.ts';

export const ENROLLMENT_REQUESTS_CONSUMER = 'journey-enrollment-requests';

export async function applyEnrollmentRequest(deps: JourneyDeps, event: EventEnvelope): Promise<boolean> {
  const request = catalogue.crm.journeyEnrollmentRequested.data.parse(event.data);
  const ctx: RequestContext = {
    correlationId: event.correlationId,
    actor: { type: 'system', id: `crm-point-trigger:${request.triggerId}` },
    organizationId: event.organizationId as OrganizationId,
    scopes: ['journey:write'],
  };
  return applyOnce(deps.handle.db, processedEvents, ENROLLMENT_REQUESTS_CONSUMER, event, async (tx) => {
    const result = await enrollContact({ ...deps, handle: { ...deps.handle, db: tx } }, ctx, {
      journeyId: request.journeyId,
      contactId: event.subject.id,
      data: { pointTriggerId: request.triggerId },
    });
    if (!result.ok)
      deps.logger.warn(
        { organizationId: event.organizationId, eventId: event.id, ...request, code: result.error.code },
        `${event.type}: ${result.error.message}`,
      );
  });
}
