// Queues many messages at once (a campaign's audience, a journey step's batch): one insert and
// one outbox append per call, each message still once per (organization, idempotency key).
import { newId } from '@mauntic/kernel';
import { appendEvents, type Executor } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { messages, outbox } from '../db/schema';
import { type EnqueueRequest, type MessageRow, queuedEvent } from './send';

/** Inserts the requests not queued before; returns the rows it inserted (duplicates are skipped). */
export async function enqueueMessages(
  tx: Executor,
  organizationId: string,
  requests: EnqueueRequest[],
  correlationId: string,
): Promise<MessageRow[]> {
  if (requests.length === 0) return [];
  const rows = requests.map((r) => ({
    id: newId(),
    k: r.idempotencyKey,
    ch: r.channel,
    t: r.templateId,
    c: r.contactId,
    a: r.address,
    sk: r.source.kind,
    si: r.source.id,
    ss: r.source.stepId,
    x: r.context,
  }));
  const inserted = await tx.execute(sql`
    insert into ${messages} (id, organization_id, idempotency_key, channel, template_id, contact_id, address,
      source_kind, source_id, source_step_id, context)
    select r.id, ${organizationId}, r.k, r.ch, r.t, r.c, r.a, r.sk, r.si, r.ss, coalesce(r.x, '{}'::jsonb)
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as r(id uuid, k text, ch text, t uuid, c uuid, a text, sk text, si text, ss text, x jsonb)
    on conflict (organization_id, idempotency_key) do nothing
    returning id`);
  const ids = new Set(
    ((inserted as unknown as { rows?: { id: string }[] }).rows ?? (inserted as unknown as { id: string }[])).map(
      (r) => r.id,
    ),
  );
  const now = new Date();
  const queued: MessageRow[] = rows
    .filter((r) => ids.has(r.id))
    .map((r) => ({
      id: r.id,
      organizationId,
      idempotencyKey: r.k,
      channel: r.ch,
      templateId: r.t,
      contactId: r.c,
      address: r.a,
      sourceKind: r.sk,
      sourceId: r.si,
      sourceStepId: r.ss,
      context: r.x,
      status: 'queued',
      error: null,
      attempts: 0,
      notBefore: now,
      leaseOwner: null,
      leaseUntil: null,
      providerId: null,
      providerMessageId: null,
      unconfirmed: false,
      opens: 0,
      clicks: 0,
      machineOpens: 0,
      machineClicks: 0,
      queuedAt: now,
      sentAt: null,
      deliveredAt: null,
      openedAt: null,
      clickedAt: null,
      bouncedAt: null,
      complainedAt: null,
      failedAt: null,
      updatedAt: now,
    }));
  await appendEvents(
    tx,
    outbox,
    queued.map((m) => queuedEvent(m, correlationId)),
  );
  return queued;
}
