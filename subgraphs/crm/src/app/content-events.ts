// What content's events do in CRM (consumers.ts subscribes to them): form submissions and page
// visits go on the timeline as behaviour (`form.submitted` with the form as subject,
// `page.visited` with the URL as subject: what the segment conditions "submitted form Y" and
// "visited a URL like ..." read), and earn the points their rules give.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import type { Executor } from '@mauntic/platform';
import { and, eq } from 'drizzle-orm';
import type { NewActivity } from '../db/activities.ts';
import { contacts } from '../db/schema.ts';
import { recordBehaviour } from './activities.ts';
import type { CrmDeps } from './deps.ts';

const c = catalogue.content;
export const CONTENT_EVENTS = [c.formSubmitted, c.pageVisited];

/** The activity an event puts on the contact's timeline (its contact still to be checked). */
function toActivity(event: EventEnvelope): (NewActivity & { trigger: (typeof CONTENT_EVENTS)[number]['type'] }) | null {
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

/** Applies one content event in the consumer's transaction. */
export async function applyContentEvent(tx: Executor, deps: CrmDeps, event: EventEnvelope): Promise<void> {
  const activity = toActivity(event);
  if (!activity) return;
  const { trigger, ...recorded } = activity;
  // Only a contact of the event's own organization: an id from elsewhere records nothing.
  const [contact] = await tx
    .select({ id: contacts.id })
    .from(contacts)
    .where(and(eq(contacts.organizationId, event.organizationId), eq(contacts.id, recorded.contactId)));
  if (!contact) return;
  await recordBehaviour(tx, deps, recorded, event.correlationId, { eventType: trigger });
}
