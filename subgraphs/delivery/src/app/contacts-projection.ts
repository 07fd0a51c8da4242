// Delivery's copy of CRM contacts: created, updated, erased and do-not-contact changes, and custom
// fields deleted with their values, arrive as CRM events and are applied once each, so the engine
// reads addresses, locale, time zone and fields for a whole batch in one query instead of calling
// CRM per message. A contact's first event also releases the send requests that waited for it.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { contacts, processedEvents } from '../db/schema.ts';
import type { DeliveryDeps } from './deps.ts';
import { releasePendingRequests } from './send-requests.ts';

export const CRM_CONSUMER = 'delivery-crm';

const c = catalogue.crm;

export async function applyCrmEvent(deps: DeliveryDeps, event: EventEnvelope): Promise<boolean> {
  const org = event.organizationId;
  const id = event.subject.id;
  return applyOnce(deps.handle.db, processedEvents, CRM_CONSUMER, event, async (tx) => {
    switch (event.type) {
      case c.contactCreated.type:
      case c.contactUpdated.type: {
        const { contact } = c.contactCreated.data.parse(event.data);
        const values = {
          email: contact.email,
          phone: contact.phone,
          firstName: contact.firstName,
          lastName: contact.lastName,
          locale: contact.locale,
          timezone: contact.timezone,
          fields: contact.fields,
          updatedAt: new Date(event.occurredAt),
        };
        await tx
          .insert(contacts)
          .values({ id, organizationId: org, ...values })
          .onConflictDoUpdate({
            target: contacts.id,
            set: values,
            // Events of one contact arrive in order, but a replay must not roll a newer copy back.
            setWhere: sql`${contacts.organizationId} = ${org} and ${contacts.updatedAt} <= ${event.occurredAt} and ${contacts.deletedAt} is null`,
          });
        await releasePendingRequests(tx, deps, org, [id]);
        break;
      }
      case c.contactDeleted.type:
      case c.contactMerged.type: {
        // A tombstone, not a delete: an older created/updated event arriving late finds the row
        // and leaves it gone.
        const gone = event.type === c.contactDeleted.type ? id : c.contactMerged.data.parse(event.data).loserId;
        const erased = {
          deletedAt: new Date(event.occurredAt),
          email: null,
          phone: null,
          firstName: null,
          lastName: null,
          fields: {},
          pushTokens: [],
        };
        await tx
          .insert(contacts)
          .values({ id: gone, organizationId: org, ...erased })
          .onConflictDoUpdate({ target: contacts.id, set: erased, setWhere: sql`${contacts.organizationId} = ${org}` });
        // Requests that waited for it end skipped: the contact is gone.
        await releasePendingRequests(tx, deps, org, [gone]);
        break;
      }
      case c.dncChanged.type: {
        const { channel, doNotContact } = c.dncChanged.data.parse(event.data);
        await tx
          .update(contacts)
          .set({
            doNotContact: doNotContact
              ? sql`array(select distinct unnest(${contacts.doNotContact} || array[${channel}]::text[]))`
              : sql`array_remove(${contacts.doNotContact}, ${channel})`,
          })
          .where(and(eq(contacts.organizationId, org), eq(contacts.id, id)));
        break;
      }
      case c.fieldDeleted.type: {
        const { entity, key } = c.fieldDeleted.data.parse(event.data);
        if (entity !== 'contact') break;
        await tx
          .update(contacts)
          .set({ fields: sql`${contacts.fields} - ${key}::text` })
          .where(and(eq(contacts.organizationId, org), sql`${contacts.fields} -> ${key}::text is not null`));
        break;
      }
    }
  });
}
