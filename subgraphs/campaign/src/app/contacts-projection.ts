// The campaign context's copy of CRM's contacts (alive or not, their time zone, their
// do-not-contact channels) and segment memberships: what a launch reads to choose its audience,
// and the tracked events A/B tests count as conversions, kept from CRM's events, each applied once, so the context never reads CRM's schema.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type Executor } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { contacts, processedEvents, segmentMemberships } from '../db/schema.ts';
import { timeZone } from '../domain/campaign.ts';
import { recordConversion } from './ab-test.ts';
import type { CampaignDeps } from './deps.ts';

export const CRM_CONSUMER = 'campaign-crm';

const c = catalogue.crm;

/** The CRM events the copy is kept from, in one consumer group so one contact's stay in order. */
export const CRM_EVENTS = [
  c.contactCreated,
  c.contactUpdated,
  c.contactDeleted,
  c.contactMerged,
  c.dncChanged,
  c.segmentEntered,
  c.segmentExited,
  c.contactEventTracked,
];

/** Applies one CRM event to the copy unless this consumer already did; true if it applied it. */
export function applyCrmEvent(deps: CampaignDeps, event: EventEnvelope): Promise<boolean> {
  return applyOnce(deps.handle.db, processedEvents, CRM_CONSUMER, event, (tx) => apply(tx, event));
}

async function apply(tx: Executor, event: EventEnvelope) {
  const org = event.organizationId;
  const id = event.subject.id;
  switch (event.type) {
    case c.contactCreated.type:
    case c.contactUpdated.type: {
      const { contact } = c.contactCreated.data.parse(event.data);
      const values = {
        // A zone Postgres may not know would fail a launch's materialisation: unknown ones are dropped.
        timezone: contact.timezone && timeZone.safeParse(contact.timezone).success ? contact.timezone : null,
        updatedAt: new Date(event.occurredAt),
      };
      await tx
        .insert(contacts)
        .values({ id, organizationId: org, ...values })
        .onConflictDoUpdate({
          target: contacts.id,
          set: values,
          // A replay must not roll a newer copy back, nor bring a deleted contact back.
          setWhere: sql`${contacts.organizationId} = ${org} and ${contacts.updatedAt} <= ${event.occurredAt} and not ${contacts.deleted}`,
        });
      break;
    }
    case c.contactDeleted.type:
      await forget(tx, org, id, event.occurredAt);
      break;
    case c.contactMerged.type:
      await forget(tx, org, c.contactMerged.data.parse(event.data).loserId, event.occurredAt);
      break;
    case c.dncChanged.type: {
      const { channel, doNotContact, reason } = c.dncChanged.data.parse(event.data);
      await tx
        .update(contacts)
        .set({
          dnc: doNotContact
            ? sql`${contacts.dnc} || jsonb_build_object(${channel}::text, ${reason ?? null}::text)`
            : sql`${contacts.dnc} - ${channel}::text`,
        })
        .where(and(eq(contacts.organizationId, org), eq(contacts.id, id)));
      break;
    }
    case c.contactEventTracked.type: {
      const tracked = c.contactEventTracked.data.parse(event.data);
      await recordConversion(tx, org, id, tracked.name, new Date(tracked.occurredAt));
      break;
    }
    case c.segmentEntered.type:
      await tx
        .insert(segmentMemberships)
        .values({ organizationId: org, contactId: id, segmentId: c.segmentEntered.data.parse(event.data).segmentId })
        .onConflictDoNothing();
      break;
    case c.segmentExited.type:
      await tx
        .delete(segmentMemberships)
        .where(
          and(
            eq(segmentMemberships.organizationId, org),
            eq(segmentMemberships.contactId, id),
            eq(segmentMemberships.segmentId, c.segmentExited.data.parse(event.data).segmentId),
          ),
        );
      break;
  }
}

/** A tombstone, not a delete: an older event arriving late finds the row and leaves it gone. */
async function forget(tx: Executor, organizationId: string, id: string, occurredAt: string) {
  const erased = { deleted: true, timezone: null, dnc: {}, updatedAt: new Date(occurredAt) };
  await tx
    .insert(contacts)
    .values({ id, organizationId, ...erased })
    .onConflictDoUpdate({
      target: contacts.id,
      set: erased,
      setWhere: sql`${contacts.organizationId} = ${organizationId}`,
    });
  await tx
    .delete(segmentMemberships)
    .where(and(eq(segmentMemberships.organizationId, organizationId), eq(segmentMemberships.contactId, id)));
}
