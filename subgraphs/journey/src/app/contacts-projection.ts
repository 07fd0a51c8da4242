// The journey context's copy of CRM contacts and their segment memberships: what conditions,
// time zones and exit criteria read, kept from CRM's events, each applied once, so the executor
// reads a whole batch of contacts in one query instead of calling CRM per run.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type Executor } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { contacts, processedEvents, segmentMemberships } from '../db/schema.ts';
import type { JourneyDeps } from './deps.ts';

export const CRM_CONSUMER = 'journey-crm';

const c = catalogue.crm;

/** The CRM events the copy is kept from, in one consumer group so one contact's stay in order. */
export const CRM_EVENTS = [
  c.contactCreated,
  c.contactUpdated,
  c.contactDeleted,
  c.contactMerged,
  c.contactTagged,
  c.pointsChanged,
  c.dncChanged,
  c.segmentEntered,
  c.segmentExited,
];

/** Applies one CRM event to the copy unless this consumer already did; true if it applied it. */
export function applyCrmEvent(deps: JourneyDeps, event: EventEnvelope): Promise<boolean> {
  return applyOnce(deps.handle.db, processedEvents, CRM_CONSUMER, event, (tx) => apply(tx, event));
}

async function apply(tx: Executor, event: EventEnvelope) {
  const org = event.organizationId;
  const id = event.subject.id;
  const thisContact = and(eq(contacts.organizationId, org), eq(contacts.id, id));
  switch (event.type) {
    case c.contactCreated.type:
    case c.contactUpdated.type:
      await applySnapshot(tx, event);
      break;
    case c.contactDeleted.type:
      await forget(tx, org, id, event.occurredAt);
      break;
    case c.contactMerged.type:
      await forget(tx, org, c.contactMerged.data.parse(event.data).loserId, event.occurredAt);
      break;
    case c.contactTagged.type: {
      const { added, removed } = c.contactTagged.data.parse(event.data);
      // The tags in their order, the added ones last, each once, without the removed ones.
      await tx
        .update(contacts)
        .set({
          tags: sql`array(select t from unnest(${contacts.tags} || ${textArray(added)}) with ordinality as u(t, i)
                    where not (t = any(${textArray(removed)})) group by t order by min(i))`,
        })
        .where(thisContact);
      break;
    }
    case c.pointsChanged.type:
      await tx
        .update(contacts)
        .set({ points: c.pointsChanged.data.parse(event.data).points })
        .where(thisContact);
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
        .where(thisContact);
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

const textArray = (values: string[]) =>
  sql`array[${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )}]::text[]`;

async function applySnapshot(tx: Executor, event: EventEnvelope) {
  const { contact } = c.contactCreated.data.parse(event.data);
  const at = new Date(event.occurredAt);
  const values = {
    email: contact.email,
    phone: contact.phone,
    firstName: contact.firstName,
    lastName: contact.lastName,
    timezone: contact.timezone,
    locale: contact.locale,
    fields: contact.fields,
    tags: contact.tags,
    points: contact.points,
    stageId: contact.stageId,
    ownerId: contact.ownerId,
    updatedAt: at,
  };
  await tx
    .insert(contacts)
    .values({
      id: event.subject.id,
      organizationId: event.organizationId,
      ...values,
      ...(event.type === c.contactCreated.type ? { createdAt: at } : {}),
    })
    .onConflictDoUpdate({
      target: contacts.id,
      set: { ...values, ...(event.type === c.contactCreated.type ? { createdAt: at } : {}) },
      // Events of one contact arrive in order, but a replay must not roll a newer copy back,
      // nor bring a deleted contact back.
      setWhere: sql`${contacts.organizationId} = ${event.organizationId} and ${contacts.updatedAt} <= ${event.occurredAt} and not ${contacts.deleted}`,
    });
}

/**
 * A tombstone, not a delete: an older event arriving late finds the row and leaves it gone.
 * Personal data and memberships go.
 */
async function forget(tx: Executor, organizationId: string, id: string, occurredAt: string) {
  const erased = {
    deleted: true,
    email: null,
    phone: null,
    firstName: null,
    lastName: null,
    fields: {},
    tags: [],
    dnc: {},
    updatedAt: new Date(occurredAt),
  };
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
