// Writing events: in the same transaction as the state change they describe. The NOTIFY is
// delivered on commit and wakes the relay; nothing is announced that was not committed.
import { contextOf, type EventEnvelope, topicOf } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import type { Executor } from '../db/database';
import type { OutboxTable } from './tables';

export const OUTBOX_CHANNEL = 'mauntic_outbox';

export async function appendEvents(tx: Executor, table: OutboxTable, events: EventEnvelope[]): Promise<void> {
  if (events.length === 0) return;
  await tx.insert(table).values(
    events.map((event) => ({
      id: event.id,
      organizationId: event.organizationId,
      topic: topicOf(contextOf(event.type)),
      key: event.subject.id,
      type: event.type,
      envelope: event,
    })),
  );
  await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, ${contextOf(events[0]!.type)})`);
}
