// The fan-out: starting campaigns (their recipients materialised once, set-based, from the
// context's own copy of segment memberships) and handing their recipients to delivery as
// `delivery.message.requested` events, a batch per transaction. A batch marks its recipients
// requested and writes their requests to the outbox in one transaction, with the campaign's row
// locked: a fan-out killed at any point leaves either both or neither, so restarted it neither
// skips nor repeats anyone, and delivery makes one message per (campaign, contact, variant) key
// however often a request arrives.
import { catalogue, topicOf } from '@mauntic/kernel';
import {
  appendEvents,
  contextFromTraceparent,
  inSpan,
  OUTBOX_CHANNEL,
  rowsOf,
  type Transaction,
  traceparentOf,
  tracing,
  UUID_V7_SQL,
} from '@mauntic/platform';
import { and, eq, inArray, isNull, lte, or, type SQL, sql } from 'drizzle-orm';
import { campaigns, outbox, recipients } from '../db/schema.ts';
import { transition } from '../domain/lifecycle.ts';
import { assignSample } from './ab-test.ts';
import { campaignEvent } from './campaign-lifecycle.ts';
import type { CampaignRow } from './campaigns.ts';
import type { CampaignDeps } from './deps.ts';

const THROTTLE_WINDOW_MS = { minute: 60_000, hour: 3_600_000 } as const;

/** The set literal of uuids Postgres reads as uuid[] (the ids were validated as uuids). */
const uuidArray = (ids: string[]) => sql`${`{${ids.join(',')}}`}::uuid[]`;

const UUID_V7 = UUID_V7_SQL;

/**
 * Starts every campaign due to start (launched to send now, or scheduled and its time come),
 * each in its own transaction; returns how many it started.
 */
export async function startDueCampaigns(deps: CampaignDeps): Promise<number> {
  const now = deps.now();
  const due = await deps.handle.db
    .select({ id: campaigns.id, traceParent: campaigns.traceParent })
    .from(campaigns)
    .where(
      or(
        and(eq(campaigns.status, 'sending'), isNull(campaigns.materialisedAt)),
        and(eq(campaigns.status, 'scheduled'), lte(campaigns.sendAt, now)),
      ),
    );
  let started = 0;
  for (const { id, traceParent } of due) {
    const start = () => deps.handle.db.transaction((tx) => startCampaign(tx, deps, id, now));
    // Tracing on: the start (its campaign.launched event) goes on in the launch request's trace.
    const done =
      tracing.enabled && traceParent
        ? await inSpan(
            'start campaign',
            { parent: contextFromTraceparent(traceParent), attributes: { 'mauntic.campaign.id': id } },
            start,
          )
        : await start();
    if (done) started++;
  }
  return started;
}

async function startCampaign(tx: Transaction, deps: CampaignDeps, id: string, now: Date): Promise<boolean> {
  const [row] = await tx.select().from(campaigns).where(eq(campaigns.id, id)).for('update', { skipLocked: true });
  if (!row || row.materialisedAt) return false;
  if (row.status === 'scheduled' && (!row.sendAt || row.sendAt.getTime() > now.getTime())) return false;
  const next = row.status === 'scheduled' ? transition(row.status, 'start') : { ok: true as const };
  if (!next.ok) return false;
  const count = await materialise(tx, row, now);
  // Fresh statistics for the hand-off's plan: without them the planner takes the million rows
  // just written for a handful and scans them for every batch.
  await tx.execute(sql`analyze ${recipients}`);
  const sampleSize = row.abTest ? await assignSample(tx, row, count) : null;
  const [started] = await tx
    .update(campaigns)
    .set({
      status: 'sending',
      materialisedAt: now,
      launchedAt: now,
      recipientCount: count,
      sampleSize,
      updatedAt: sql`now()`,
    })
    .where(eq(campaigns.id, id))
    .returning();
  await appendEvents(tx, outbox, [
    campaignEvent(row.correlationId ?? row.id, started!, catalogue.campaign.campaignLaunched, {
      name: row.name,
      channel: row.channel,
      recipients: count,
    }),
  ]);
  deps.logger.info({ campaignId: id, recipients: count }, 'campaign started');
  return true;
}

/**
 * The audience as of now: members of any of the segments, minus members of any excluded
 * segment, minus contacts deleted or not to be contacted on the channel (`m` the membership,
 * `c` the contact).
 */
export const audienceOf = (row: CampaignRow) => sql`
    from (select distinct contact_id from campaign.segment_memberships
          where organization_id = ${row.organizationId} and segment_id = any(${uuidArray(row.segmentIds)})) m
    join campaign.contacts c on c.id = m.contact_id and c.organization_id = ${row.organizationId}
    where ${reachable(row)} and ${notExcluded(row, sql`m.contact_id`)}`;

/** The contact `c` is not deleted and may be contacted on the campaign's channel. */
const reachable = (row: CampaignRow) => sql`not c.deleted and not jsonb_exists(c.dnc, ${row.channel})`;

const notExcluded = (row: CampaignRow, contactId: SQL) => sql`
  not exists (select 1 from campaign.segment_memberships x
              where x.organization_id = ${row.organizationId} and x.contact_id = ${contactId}
                and x.segment_id = any(${uuidArray(row.excludedSegmentIds)}))`;

/** Whether a recipient is still in the audience at its turn, by the same rules as audienceOf. */
const stillInAudience = (row: CampaignRow, contactId: SQL) => sql`
  exists (select 1 from campaign.segment_memberships s
          where s.contact_id = ${contactId} and s.organization_id = ${row.organizationId}
            and s.segment_id = any(${uuidArray(row.segmentIds)}))
  and exists (select 1 from campaign.contacts c
              where c.id = ${contactId} and c.organization_id = ${row.organizationId} and ${reachable(row)})
  and ${notExcluded(row, contactId)}`;

/**
 * Writes the audience, once. Each recipient is due at the campaign's start, or, for a send at a
 * local time, at that time in its zone (the campaign's zone when it has none, or none Postgres
 * knows). An A/B test's recipients get their variant after (ab-test.ts).
 */
async function materialise(tx: Transaction, row: CampaignRow, now: Date): Promise<number> {
  const variant = row.abTest ? null : row.variants[0]!.key;
  const dueAt = row.localSendAt
    ? sql`(${row.localSendAt}::timestamp at time zone coalesce(
        case when c.timezone in (select name from pg_timezone_names) then c.timezone end, ${row.timezone}))`
    : sql`${(row.sendAt ?? now).toISOString()}::timestamptz`;
  const [inserted] = rowsOf<{ n: number }>(
    await tx.execute(sql`
      with ins as (
        insert into ${recipients} (campaign_id, contact_id, organization_id, variant, due_at)
        select ${row.id}::uuid, m.contact_id, ${row.organizationId}::uuid, ${variant}::text, ${dueAt}
        ${audienceOf(row)}
        on conflict do nothing
        returning 1)
      select count(*)::int as n from ins`),
  );
  return inserted!.n;
}

export interface HandOver {
  /** Send requests written. */
  requested: number;
  /** Whether the campaign has nothing left to hand over now (done, waiting, throttled or paused). */
  idle: boolean;
}

/**
 * Hands the next batch of a sending campaign's due recipients to delivery, in one transaction;
 * completes the campaign once every recipient was handed over. Skips a campaign another fan-out
 * (or a pause or cancel) holds at the moment.
 */
export async function handOver(deps: CampaignDeps, campaignId: string, batchSize: number): Promise<HandOver> {
  return deps.handle.db.transaction(async (tx) => {
    const now = deps.now();
    const [row] = await tx
      .select()
      .from(campaigns)
      .where(and(eq(campaigns.id, campaignId), eq(campaigns.status, 'sending')))
      .for('update', { skipLocked: true });
    if (!row?.materialisedAt) return { requested: 0, idle: true };
    if (!tracing.enabled || !row.traceParent) return handOverBatch(tx, row, now, batchSize);
    // Tracing on: a span per batch in the launch request's trace, the parent of its send requests
    // (README, "Tracing": one parent per batch rather than links). A campaign throttled or waiting
    // for its recipients' local times is looked at every poll: no span for a look that hands
    // nothing over.
    const waiting =
      row.requestedCount + row.skippedCount < (row.recipientCount ?? 0) &&
      ((throttleWindow(row, now)?.left ?? 1) <= 0 ||
        !rowsOf(await tx.execute(sql`select 1 from ${recipients} where ${dueAfterCursor(row, now)} limit 1`)).length);
    if (waiting) return { requested: 0, idle: true };
    return inSpan(
      'hand over campaign',
      { parent: contextFromTraceparent(row.traceParent), attributes: { 'mauntic.campaign.id': row.id } },
      async (span) => {
        const handed = await handOverBatch(tx, row, now, batchSize);
        span.setAttribute('messaging.batch.message_count', handed.requested);
        return handed;
      },
    );
  });
}

async function handOverBatch(tx: Transaction, row: CampaignRow, now: Date, batchSize: number): Promise<HandOver> {
  if (row.requestedCount + row.skippedCount >= (row.recipientCount ?? 0)) {
    await complete(tx, row);
    return { requested: 0, idle: true };
  }
  const window = throttleWindow(row, now);
  const limit = Math.min(batchSize, window ? window.left : batchSize);
  if (limit <= 0) return { requested: 0, idle: true };
  const result = await writeRequests(tx, row, now, limit);
  const [updated] = await tx
    .update(campaigns)
    .set({
      requestedCount: sql`${campaigns.requestedCount} + ${result.requested}`,
      skippedCount: sql`${campaigns.skippedCount} + ${result.skipped}`,
      ...(result.last ? { cursorDueAt: new Date(result.last.dueAt), cursorContactId: result.last.contactId } : {}),
      ...(window ? { windowStartedAt: window.startedAt, windowCount: window.count + result.requested } : {}),
      // An A/B test's window starts once its whole sample has been handed over.
      ...(row.sampleSize !== null &&
      !row.sampleSentAt &&
      row.requestedCount + row.skippedCount + result.requested + result.skipped >= row.sampleSize
        ? { sampleSentAt: now }
        : {}),
    })
    .where(eq(campaigns.id, row.id))
    .returning();
  const done = updated!.requestedCount + updated!.skippedCount >= (updated!.recipientCount ?? 0);
  if (result.requested || result.skipped)
    await appendEvents(tx, outbox, [
      campaignEvent(row.correlationId ?? row.id, updated!, catalogue.campaign.campaignProgressed, {
        name: row.name,
        recipients: updated!.recipientCount ?? 0,
        requested: updated!.requestedCount,
        skipped: updated!.skippedCount,
      }),
    ]);
  if (done) await complete(tx, updated!);
  if (result.requested || done) await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, 'campaign')`);
  return { requested: result.requested, idle: done || result.scanned < limit };
}

/** The campaign's recipients due by now and not handed over yet (after the fan-out's cursor). */
const dueAfterCursor = (row: CampaignRow, now: Date) => sql`campaign_id = ${row.id}
  and (due_at, contact_id) > (${row.cursorDueAt?.toISOString() ?? '-infinity'}::timestamptz,
                              ${row.cursorContactId ?? '00000000-0000-0000-0000-000000000000'}::uuid)
  and due_at <= ${now.toISOString()}::timestamptz`;

/** The throttle's window as of now (a new one when the last has run out) and what it still allows. */
function throttleWindow(row: CampaignRow, now: Date) {
  if (!row.throttle) return null;
  const length = THROTTLE_WINDOW_MS[row.throttle.per];
  const current = row.windowStartedAt && now.getTime() - row.windowStartedAt.getTime() < length;
  const count = current ? row.windowCount : 0;
  return { startedAt: current ? row.windowStartedAt! : now, count, left: row.throttle.count - count };
}

/**
 * One statement: the next `limit` recipients after the cursor that are due; of those with a
 * variant and not handled yet, the ones still in the audience marked requested, with their send
 * requests inserted into the outbox as delivery.message.requested envelopes built by Postgres, and
 * the ones that left it since the launch (out of every segment, into an excluded one, deleted,
 * not to be contacted) marked skipped. Who joined after the launch is not added: the audience was
 * chosen once, at the launch.
 */
async function writeRequests(tx: Transaction, row: CampaignRow, now: Date, limit: number) {
  const variants = JSON.stringify(row.variants);
  // Tracing on: every request of the batch carries the batch's span, so delivery's work on it and
  // the engine's send join the launch's trace.
  const traceparent = traceparentOf();
  const traced = traceparent ? sql`, 'traceparent', ${traceparent}::text` : sql``;
  const [result] = rowsOf<{
    requested: number;
    skipped: number;
    scanned: number;
    due_at: string | null;
    contact_id: string | null;
  }>(
    await tx.execute(sql`
      with picked as (
        select contact_id, due_at from ${recipients}
        where ${dueAfterCursor(row, now)}
        order by due_at, contact_id
        limit ${limit}
      ), kept as (
        select p.contact_id from picked p where ${stillInAudience(row, sql`p.contact_id`)}
      ), marked as (
        update ${recipients} r set requested_at = ${now.toISOString()}::timestamptz
        from kept p
        where r.campaign_id = ${row.id} and r.contact_id = p.contact_id
          and r.requested_at is null and r.skipped_at is null and r.variant is not null
        returning r.contact_id, r.variant
      ), skipped as (
        update ${recipients} r set skipped_at = ${now.toISOString()}::timestamptz
        from picked p
        where r.campaign_id = ${row.id} and r.contact_id = p.contact_id
          and r.requested_at is null and r.skipped_at is null and r.variant is not null
          and p.contact_id not in (select contact_id from kept)
        returning 1
      ), identified as (
        -- In the select list, a volatile function runs once per row (in a FROM subquery the
        -- planner may run it once for all).
        select ${UUID_V7} as id, contact_id, variant from marked
      ), sent as (
        insert into ${outbox} (id, organization_id, topic, key, type, envelope)
        select m.id, ${row.organizationId}::uuid, ${topicOf('delivery')}, m.contact_id::text,
               'delivery.message.requested',
               json_build_object(
                 'id', m.id, 'type', 'delivery.message.requested', 'version', 1,
                 'organizationId', ${row.organizationId}::uuid,
                 'occurredAt', to_char(${now.toISOString()}::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                 'correlationId', ${row.correlationId ?? row.id}::text,
                 'subject', json_build_object('type', 'contact', 'id', m.contact_id),
                 'data', json_build_object(
                   'channel', ${row.channel}::text, 'templateId', v."templateId", 'contactId', m.contact_id,
                   'address', null,
                   -- The UTM values go with each request: delivery adds them to the tracked links.
                   'context', json_build_object('campaignId', ${row.id}::uuid, 'variant', m.variant)::jsonb
                              || ${JSON.stringify(row.utm ? { utm: row.utm } : {})}::jsonb,
                   'idempotencyKey', 'campaign:' || ${row.id}::text || ':' || m.contact_id || ':' || m.variant,
                   'source', json_build_object('kind', 'campaign', 'id', ${row.id}::uuid, 'stepId', m.variant))${traced})
        from identified m
        join json_to_recordset(${variants}::json) as v(key text, "templateId" uuid) on v.key = m.variant
        returning 1
      )
      select (select count(*) from sent)::int as requested, (select count(*) from skipped)::int as skipped,
             (select count(*) from picked)::int as scanned,
             last.due_at, last.contact_id
      from (select 1) one
      left join lateral (select due_at, contact_id from picked order by due_at desc, contact_id desc limit 1) last on true`),
  );
  return {
    requested: result!.requested,
    skipped: result!.skipped,
    scanned: result!.scanned,
    last: result!.contact_id ? { dueAt: result!.due_at!, contactId: result!.contact_id } : null,
  };
}

/** Every recipient handed over: the campaign is complete. */
async function complete(tx: Transaction, row: CampaignRow) {
  const next = transition(row.status, 'complete');
  if (!next.ok) return;
  const [done] = await tx
    .update(campaigns)
    .set({ status: next.value, completedAt: sql`now()`, updatedAt: sql`now()` })
    .where(eq(campaigns.id, row.id))
    .returning();
  await appendEvents(tx, outbox, [
    campaignEvent(row.correlationId ?? row.id, done!, catalogue.campaign.campaignCompleted, {
      name: row.name,
      requested: row.requestedCount,
    }),
  ]);
}

/** The campaigns the fan-out works on now. */
export async function sendingCampaigns(deps: CampaignDeps): Promise<string[]> {
  const rows = await deps.handle.db
    .select({ id: campaigns.id })
    .from(campaigns)
    .where(inArray(campaigns.status, ['sending']));
  return rows.map((r) => r.id);
}
