// Writing events: in the same transaction as the state change they describe. The NOTIFY is
// delivered on commit and wakes the relay; nothing is announced that was not committed.
import { contextOf, type EventEnvelope, topicOf } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import type { Executor } from '../db/database.ts';
import { inSpan, traceparentOf, tracing } from '../telemetry/tracing.ts';
import type { OutboxTable } from './tables.ts';

export const OUTBOX_CHANNEL = 'mauntic_outbox';

/** An event as an outbox row (snake_case columns), for statements that insert events from JSON. */
export function outboxRow(event: EventEnvelope) {
  return {
    id: event.id,
    organization_id: event.organizationId,
    topic: topicOf(contextOf(event.type)),
    key: event.subject.id,
    type: event.type,
    envelope: event,
  };
}

export async function appendEvents(tx: Executor, table: OutboxTable, events: EventEnvelope[]): Promise<void> {
  if (events.length === 0) return;
  if (!tracing.enabled) return insertEvents(tx, table, events);
  const context = contextOf(events[0]!.type);
  await inSpan(
    `outbox append ${context}`,
    { attributes: { 'mauntic.context': context, 'messaging.batch.message_count': events.length } },
    async () => {
      // Stamped inside the span: the relay's publish span and the consumers' spans are its children.
      const traceparent = traceparentOf();
      await insertEvents(tx, table, traceparent ? events.map((event) => ({ ...event, traceparent })) : events);
    },
  );
}

async function insertEvents(tx: Executor, table: OutboxTable, events: EventEnvelope[]): Promise<void> {
  const rows = events.map(outboxRow);
  // One round trip: the rows travel as one JSON parameter, and the NOTIFY rides along.
  await tx.execute(sql`
    with inserted as (
      insert into ${table} (id, organization_id, topic, key, type, envelope)
      select id, organization_id, topic, key, type, envelope
      from json_to_recordset(${JSON.stringify(rows)}::json)
        as r(id uuid, organization_id uuid, topic text, key text, type text, envelope json)
      returning 1
    )
    select pg_notify(${OUTBOX_CHANNEL}, ${contextOf(events[0]!.type)}) from (select count(*) from inserted) done`);
}
