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
  return db.transaction(async (tx) => {
    const inserted = await tx
      .insert(table)
      .values({ consumer, eventId: event.id, organizationId: event.organizationId })
      .onConflictDoNothing()
      .returning({ eventId: table.eventId });
    if (inserted.length === 0) return false;
    await apply(tx);
    return true;
  });
}
