// Idempotent consumers: an event's effect and the record that it was applied commit together,
// so a redelivered event changes nothing.
import type { EventEnvelope } from '@mauntic/kernel';
import type { Database, Transaction } from '../db/database.ts';
import type { ProcessedEventsTable } from './tables.ts';

/** Runs `apply` in a transaction unless `consumer` already applied this event. True if it ran. */
export async function applyOnce(
  db: Database,
  table: ProcessedEventsTable,
  consumer: string,
  event: EventEnvelope,
  apply: (tx: Transaction) => Promise<void>,
): Promise<boolean> {
  return (await applyEachOnce(db, table, consumer, [event], apply)) === 1;
}

/**
 * applyOnce for several events in one transaction: `apply` gets those `consumer` has not applied
 * yet (each once, in their order) and runs only if there is one. Returns how many it applied.
 */
export async function applyEachOnce(
  db: Database,
  table: ProcessedEventsTable,
  consumer: string,
  events: EventEnvelope[],
  apply: (tx: Transaction, fresh: EventEnvelope[]) => Promise<void>,
): Promise<number> {
  if (events.length === 0) return 0;
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(table)
      .values(events.map((event) => ({ consumer, eventId: event.id, organizationId: event.organizationId })))
      .onConflictDoNothing()
      .returning({ eventId: table.eventId });
    const ids = new Set(inserted.map((row) => row.eventId));
    // delete(): an event twice in the batch (published twice) is applied once.
    const fresh = events.filter((event) => ids.delete(event.id));
    if (fresh.length > 0) await apply(tx, fresh);
    return fresh.length;
  });
}
