// What a journey definition may name, copied from the contexts that own it: CRM's segments (with
// their kind) and custom contact fields (with their type), and delivery's templates (with their
// channel), kept from their created, updated and deleted events, each applied once. Drafts and
// publishing are checked against these copies (check-definition.ts), never against the owners' data.
import { catalogue, type EventEnvelope } from '@mauntic/kernel';
import { applyOnce, type Executor } from '@mauntic/platform';
import { and, eq, sql } from 'drizzle-orm';
import { contacts, customFields, processedEvents, segmentMemberships, segments, templates } from '../db/schema.ts';
import type { JourneyDeps } from './deps.ts';

export const DEFINITIONS_CONSUMER = 'journey-definitions';

const c = catalogue.crm;
const d = catalogue.delivery;

export const DEFINITION_EVENTS = [
  c.segmentCreated,
  c.segmentUpdated,
  c.segmentDeleted,
  c.fieldCreated,
  c.fieldDeleted,
  d.templateCreated,
  d.templateUpdated,
  d.templateDeleted,
];

/** Applies one event to the copies unless this consumer already did; true if it applied it. */
export function applyDefinitionEvent(deps: JourneyDeps, event: EventEnvelope): Promise<boolean> {
  return applyOnce(deps.handle.db, processedEvents, DEFINITIONS_CONSUMER, event, (tx) => apply(tx, event));
}

async function apply(tx: Executor, event: EventEnvelope) {
  const org = event.organizationId;
  const id = event.subject.id;
  const at = new Date(event.occurredAt);
  switch (event.type) {
    case c.segmentCreated.type:
    case c.segmentUpdated.type: {
      const { kind } = c.segmentCreated.data.parse(event.data);
      await tx
        .insert(segments)
        .values({ id, organizationId: org, kind, updatedAt: at })
        .onConflictDoUpdate({
          target: segments.id,
          set: { kind, updatedAt: at },
          // A late older event neither rolls a newer copy back nor brings a deleted segment back.
          setWhere: sql`${segments.organizationId} = ${org} and ${segments.updatedAt} <= ${event.occurredAt} and not ${segments.deleted}`,
        });
      break;
    }
    case c.segmentDeleted.type: {
      const { kind } = c.segmentDeleted.data.parse(event.data);
      // A tombstone: an older event arriving late finds it and leaves it deleted.
      await tx
        .insert(segments)
        .values({ id, organizationId: org, kind, deleted: true, updatedAt: at })
        .onConflictDoUpdate({
          target: segments.id,
          set: { deleted: true, updatedAt: at },
          setWhere: sql`${segments.organizationId} = ${org}`,
        });
      // Its members left it with it (CRM publishes no exit for each).
      await tx
        .delete(segmentMemberships)
        .where(and(eq(segmentMemberships.organizationId, org), eq(segmentMemberships.segmentId, id)));
      break;
    }
    case c.fieldCreated.type:
    case c.fieldDeleted.type: {
      const { entity, key, type } = c.fieldCreated.data.parse(event.data);
      // Journeys name contact fields only (`fields.<key>`).
      if (entity !== 'contact') break;
      const deleted = event.type === c.fieldDeleted.type;
      // A key may be deleted and defined again (another field, another subject): the newer event wins.
      await tx
        .insert(customFields)
        .values({ organizationId: org, key, type, deleted, updatedAt: at })
        .onConflictDoUpdate({
          target: [customFields.organizationId, customFields.key],
          set: { type, deleted, updatedAt: at },
          setWhere: sql`${customFields.updatedAt} <= ${event.occurredAt}`,
        });
      // CRM deleted the values with the field.
      if (deleted)
        await tx
          .update(contacts)
          .set({ fields: sql`${contacts.fields} - ${key}::text` })
          .where(and(eq(contacts.organizationId, org), sql`${contacts.fields} -> ${key}::text is not null`));
      break;
    }
    case d.templateCreated.type:
    case d.templateUpdated.type: {
      const channel = d.templateCreated.data.parse(event.data).channel;
      await tx
        .insert(templates)
        .values({ id, organizationId: org, channel, updatedAt: at })
        .onConflictDoUpdate({
          target: templates.id,
          set: { channel, updatedAt: at },
          setWhere: sql`${templates.organizationId} = ${org} and ${templates.updatedAt} <= ${event.occurredAt} and not ${templates.deleted}`,
        });
      break;
    }
    case d.templateDeleted.type: {
      const channel = d.templateDeleted.data.parse(event.data).channel;
      await tx
        .insert(templates)
        .values({ id, organizationId: org, channel, deleted: true, updatedAt: at })
        .onConflictDoUpdate({
          target: templates.id,
          set: { deleted: true, updatedAt: at },
          setWhere: sql`${templates.organizationId} = ${org}`,
        });
      break;
    }
  }
}
