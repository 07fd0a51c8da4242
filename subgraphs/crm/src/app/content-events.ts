// What CRM takes from content's events: form submissions and page visits go on the timeline as
// behaviour (`form.submitted` with the form as subject, `page.visited` with the URL as subject:
// what the segment conditions "submitted form Y" and "visited a URL like ..." read), and earn
// the points their rules give.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type Subscription } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import type { NewActivity } from '../db/activities.ts';
import { contacts, processedEvents } from '../db/schema.ts';
import { recordBehaviour } from './activities.ts';
import type { CrmDeps } from './deps.ts';

export const CONTENT_CONSUMER = 'crm-content';

const c = catalogue.content;
const HANDLED = [c.formSubmitted, c.pageVisited];

/** The activity an event puts on the contact's timeline (its contact still to be checked). */
function toActivity(event: EventEnvelope): (NewActivity & { trigger: (typeof HANDLED)[number]['type'] }) | null {
  const occurredAt = new Date(event.occurredAt);
  if (event.type === c.formSubmitted.type) {
    const data = c.formSubmitted.data.parse(event.data);
    return {
      organizationId: event.organizationId,
      contactId: data.contactId,
      type: 'form.submitted',
      subject: data.formId,
      properties: { fields: data.fields, pageUrl: data.pageUrl },
      occurredAt,
      trigger: c.formSubmitted.type,
    };
  }
  if (event.type === c.pageVisited.type) {
    const data = c.pageVisited.data.parse(event.data);
    return {
      organizationId: event.organizationId,
      contactId: data.contactId,
      type: 'page.visited',
      subject: data.url,
      properties: { referrer: data.referrer, pageId: data.pageId },
      occurredAt,
      trigger: c.pageVisited.type,
    };
  }
  return null;
}

/** Applies one content event, once (redelivery changes nothing). True if it was applied now. */
export async function applyContentEvent(deps: CrmDeps, event: EventEnvelope): Promise<boolean> {
  const activity = toActivity(event);
  if (!activity) return false;
  const { trigger, ...recorded } = activity;
  return applyOnce(deps.handle.db, processedEvents, CONTENT_CONSUMER, event, async (tx) => {
    // Only a contact of the event's own organization: an id from elsewhere records nothing.
    const [contact] = await tx
      .select({ id: contacts.id })
      .from(contacts)
      .where(and(eq(contacts.organizationId, event.organizationId), eq(contacts.id, recorded.contactId)));
    if (!contact) return;
    await recordBehaviour(tx, deps, recorded, event.correlationId, { eventType: trigger });
  });
}

export const contentSubscription = (deps: CrmDeps): Subscription => ({
  group: CONTENT_CONSUMER,
  contexts: ['content'],
  types: HANDLED.map((h) => h.type),
  handle: async (event) => {
    await applyContentEvent(deps, event);
  },
});
