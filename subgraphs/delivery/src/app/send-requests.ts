// Send requests from the bus (journeys and campaigns publish `delivery.message.requested`): each
// becomes one message row, once per (organization, idempotency key), queued for the engine.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce } from '@mauntic/platform';
import { and, eq, isNull } from 'drizzle-orm';
import { contacts, processedEvents } from '../db/schema.ts';
import type { DeliveryDeps } from './deps.ts';
import { enqueueMessages } from './send.ts';

export const REQUESTS_CONSUMER = 'delivery-requests';

export async function applySendRequest(deps: DeliveryDeps, event: EventEnvelope): Promise<boolean> {
  const request = catalogue.delivery.messageRequested.data.parse(event.data);
  const org = event.organizationId;
  return applyOnce(deps.handle.db, processedEvents, REQUESTS_CONSUMER, event, async (tx) => {
    let address = request.address;
    if (!address && request.contactId) {
      const [contact] = await tx
        .select({ email: contacts.email, phone: contacts.phone, pushTokens: contacts.pushTokens })
        .from(contacts)
        .where(and(eq(contacts.organizationId, org), eq(contacts.id, request.contactId), isNull(contacts.deletedAt)));
      address =
        request.channel === 'email'
          ? (contact?.email?.toLowerCase() ?? null)
          : request.channel === 'sms'
            ? (contact?.phone ?? null)
            : (contact?.pushTokens[0] ?? null);
    }
    if (!address) {
      deps.logger.warn(
        { organizationId: org, contactId: request.contactId, channel: request.channel, eventId: event.id },
        'send request without an address for its channel; nothing queued',
      );
      return;
    }
    await enqueueMessages(
      tx,
      org,
      [
        {
          channel: request.channel,
          templateId: request.templateId,
          contactId: request.contactId,
          address,
          context: request.context,
          idempotencyKey: request.idempotencyKey,
          source: request.source,
        },
      ],
      event.correlationId,
    );
  });
}
