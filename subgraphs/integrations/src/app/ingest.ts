// The Segment-compatible ingestion endpoint's use case: authenticate the source by its write key,
// read the calls (refusing the whole request when any is out of bounds), then hand each call whose
// messageId is new to the bus as a catalogued event. A messageId the source sent before is
// acknowledged and not applied again. CRM applies the calls from the bus.
//
// Each call's event id is named by its source, messageId and the timestamp the sender gave (a
// UUID v7 with hashed bits, see namedId), so one call is one event however often it is published,
// and consumers, which apply an event id once, apply it once. A call sent without a timestamp
// takes the time it was received, so a retry of it after a 503 may be applied twice.
// With Kafka the events are published straight to the broker (acks from every in-sync replica)
// and only then are the messageIds recorded: a call is answered once it is on Kafka, with no
// outbox row to write, claim, publish and mark. A failure before the record is answered 503, so
// the client sends the calls again, and what was already published comes out as the same event
// ids. Without Kafka (embedded, whose local bus keeps nothing) the messageIds and the events
// commit together to the outbox, which the relay publishes.
import { catalogue, createEvent, type EventEnvelope, namedId, newId } from '@mauntic/kernel';
import { appendEvents, traceparentOf } from '@mauntic/platform';
import { eq, sql } from 'drizzle-orm';
import { outbox, receivedMessages, sources } from '../db/schema.ts';
import { readCalls } from '../domain/segment.ts';
import type { IntegrationsDeps } from './deps.ts';
import { hashWriteKey } from './sources.ts';

export interface IngestAnswer {
  status: 200 | 400 | 401 | 503;
  body: { success: boolean; message?: string };
  /** Calls applied now (not counting duplicates). */
  accepted: number;
}

type Source = { id: string; organizationId: string };

/** Write key hash -> source, for a short while: a busy source is not looked up per request. */
const SOURCE_TTL_MS = 10_000;

export function createIngest(deps: IntegrationsDeps) {
  const known = new Map<string, { source: Source | null; until: number }>();

  async function sourceOf(writeKey: string): Promise<Source | null> {
    const hash = hashWriteKey(writeKey);
    const cached = known.get(hash);
    if (cached && cached.until > Date.now()) return cached.source;
    const [row] = await deps.handle.db
      .select({ id: sources.id, organizationId: sources.organizationId })
      .from(sources)
      .where(eq(sources.writeKeyHash, hash));
    if (known.size > 10_000) known.clear();
    known.set(hash, { source: row ?? null, until: Date.now() + SOURCE_TTL_MS });
    return row ?? null;
  }

  return async function ingest(
    path: string,
    authorization: string | undefined,
    body: Buffer,
    receivedAt = new Date(),
  ): Promise<IngestAnswer> {
    const read = readCalls(path, body, receivedAt, newId);
    if (!read.ok) return { status: 400, body: { success: false, message: read.error.message }, accepted: 0 };
    // Segment's clients send the write key as the Basic user (empty password); some put it in the body.
    const writeKey = basicUser(authorization) ?? read.writeKey;
    const source = writeKey ? await sourceOf(writeKey) : null;
    if (!source) return { status: 401, body: { success: false, message: 'Invalid write key' }, accepted: 0 };
    const correlationId = newId();
    const eventOf = (call: (typeof read.calls)[number]): EventEnvelope => ({
      ...createEvent(catalogue.integrations.segmentCallReceived, {
        organizationId: source.organizationId,
        subjectId: call.anonymousId ?? call.userId!,
        correlationId,
        occurredAt: new Date(call.timestamp),
        data: { sourceId: source.id, ...call },
      }),
      id: namedId(source.id, call.messageId, new Date(call.originalTimestamp ?? call.receivedAt)),
    });
    const ids = [...new Set(read.calls.map((c) => c.messageId))];
    const record = (executor?: Parameters<typeof deps.handle.rows>[1]) =>
      deps.handle.rows<{ message_id: string }>(
        sql`
        insert into ${receivedMessages} (source_id, message_id, organization_id)
        select ${source.id}::uuid, m, ${source.organizationId}::uuid from json_array_elements_text(${JSON.stringify(ids)}::json) m
        on conflict do nothing
        returning message_id`,
        executor,
      );
    // A messageId twice in one request is applied once: the first time.
    const firstOf = (fresh: Set<string>) => read.calls.filter((c) => fresh.delete(c.messageId));

    let accepted: number;
    if (deps.ingestBus) {
      const bus = deps.ingestBus;
      try {
        const seen = await deps.handle.rows<{ message_id: string }>(
          sql`select message_id from ${receivedMessages} where source_id = ${source.id}::uuid
              and message_id in (select json_array_elements_text(${JSON.stringify(ids)}::json))`,
        );
        const known = new Set(seen.map((r) => r.message_id));
        const calls = firstOf(new Set(ids.filter((id) => !known.has(id))));
        // The request's trace continues in the consumers, as the outbox does for its events.
        const traceparent = traceparentOf();
        await bus.publish(calls.map((call) => ({ ...eventOf(call), ...(traceparent ? { traceparent } : {}) })));
        await record();
        accepted = calls.length;
      } catch (error) {
        deps.logger.warn({ err: error, sourceId: source.id }, 'could not hand Segment calls to the bus');
        return { status: 503, body: { success: false, message: 'Try again' }, accepted: 0 };
      }
    } else {
      accepted = await deps.handle.db.transaction(async (tx) => {
        const fresh = await record(tx);
        const calls = firstOf(new Set(fresh.map((r) => r.message_id)));
        await appendEvents(tx, outbox, calls.map(eventOf));
        return calls.length;
      });
    }
    return { status: 200, body: { success: true }, accepted };
  };
}

function basicUser(header: string | undefined): string | undefined {
  const match = /^Basic\s+(.+)$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const user = decoded.split(':')[0];
  return user || undefined;
}

export type Ingest = ReturnType<typeof createIngest>;
