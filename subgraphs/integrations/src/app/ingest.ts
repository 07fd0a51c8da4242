// The Segment-compatible ingestion endpoint's use case: authenticate the source by its write key,
// read the calls (refusing the whole request when any is out of bounds), and, in one
// transaction, record each new messageId and put its event in the outbox. A messageId the
// source sent before is acknowledged and not applied again. Answering needs only that commit:
// CRM applies the calls from the bus.
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import { appendEvents } from '@mauntic/platform';
import { eq, sql } from 'drizzle-orm';
import { outbox, receivedMessages, sources } from '../db/schema.ts';
import { readCalls } from '../domain/segment.ts';
import type { IntegrationsDeps } from './deps.ts';
import { hashWriteKey } from './sources.ts';

export interface IngestAnswer {
  status: 200 | 400 | 401;
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
    const accepted = await deps.handle.db.transaction(async (tx) => {
      const ids = [...new Set(read.calls.map((c) => c.messageId))];
      const fresh = await deps.handle.rows<{ message_id: string }>(
        sql`
        insert into ${receivedMessages} (source_id, message_id, organization_id)
        select ${source.id}::uuid, m, ${source.organizationId}::uuid from json_array_elements_text(${JSON.stringify(ids)}::json) m
        on conflict do nothing
        returning message_id`,
        tx,
      );
      const isNew = new Set(fresh.map((r) => r.message_id));
      // A messageId twice in one request is applied once: the first time.
      const calls = read.calls.filter((c) => isNew.delete(c.messageId));
      await appendEvents(
        tx,
        outbox,
        calls.map((call) =>
          createEvent(catalogue.integrations.segmentCallReceived, {
            organizationId: source.organizationId,
            subjectId: call.anonymousId ?? call.userId!,
            correlationId,
            occurredAt: new Date(call.timestamp),
            data: { sourceId: source.id, ...call },
          }),
        ),
      );
      return calls.length;
    });
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
