// The delivery engine: claims queued messages in batches, checks policy, renders, sends through
// each organization's provider, and records the outcome with its events — all set-based, one
// claim and one commit per batch.
//
// Exactly-once in effect:
// - a message row exists once per (organization, idempotency key) (unique index);
// - a batch is claimed with a lease naming this engine (`sending`), so no two engines send it;
// - every hand-over and acceptance is written to a local journal before anything else happens;
// - on start the engine settles what it held when it died: journaled messages are marked sent,
//   the rest go back to the queue. Leases of engines that never come back expire and are
//   requeued (their in-flight messages may then go twice: see the README).
// The bus only wakes the engine; the message table is the source of truth, so a lost or repeated
// `delivery.message.queued` event neither loses nor duplicates a message.

import { type DeliveryDispatcher, messageFacts, messages, outbox, type PreparedItem } from '@mauntic/delivery/engine';
import { catalogue, createEvent, type EventEnvelope } from '@mauntic/kernel';
import { appendEvents, type DatabaseHandle, type Logger, registry, type Subscription } from '@mauntic/platform';
import { and, eq, lte, sql } from 'drizzle-orm';
import { Counter, Histogram } from 'prom-client';
import { Journal, journalFile, journalFiles, readJournals } from './journal.ts';

type MessageRow = typeof messages.$inferSelect;

const batchPhase = new Histogram({
  name: 'mauntic_delivery_batch_phase_seconds',
  help: 'Time per batch phase: claim, prepare (reads and rendering), send, record',
  labelNames: ['phase'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});
const outcomes = new Counter({
  name: 'mauntic_delivery_messages_total',
  help: 'Messages the engine settled, by outcome (sent, queued again, failed, skipped)',
  labelNames: ['status'] as const,
  registers: [registry],
});

export interface EngineOptions {
  handle: DatabaseHandle;
  logger: Logger;
  dispatcher: DeliveryDispatcher;
  /** This engine's name in leases and journal files; stable across restarts (the pod name). */
  owner: string;
  journalDir: string;
  /** Messages claimed at once per lane. */
  batchSize?: number;
  /** Batches in flight at once; each has its own journal. */
  lanes?: number;
  /** Sends in flight at once per lane. */
  sendConcurrency?: number;
  leaseMs?: number;
  /** How often to look for work when no event woke the engine. */
  pollMs?: number;
  now?: () => Date;
}

interface Outcome {
  id: string;
  status: 'sent' | 'queued' | 'failed' | 'skipped';
  error: string | null;
  providerId: string | null;
  providerMessageId: string | null;
  notBefore: string | null;
  unconfirmed: boolean;
}

export class DeliveryEngine {
  private readonly batchSize: number;
  private readonly lanes: number;
  private readonly sendConcurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly now: () => Date;
  private stopped = true;
  private running: Promise<void>[] = [];
  private wakers: (() => void)[] = [];
  private reaper?: NodeJS.Timeout;

  constructor(private readonly options: EngineOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.lanes = options.lanes ?? 2;
    this.sendConcurrency = options.sendConcurrency ?? 16;
    this.leaseMs = options.leaseMs ?? 120_000;
    this.pollMs = options.pollMs ?? 1000;
    this.now = options.now ?? (() => new Date());
  }

  /** Wakes the engine on queued messages; the event itself carries nothing the table lacks. */
  subscription(): Subscription {
    return {
      group: 'delivery-engine',
      contexts: ['delivery'],
      types: [catalogue.delivery.messageQueued.type],
      handle: async () => this.wake(),
    };
  }

  wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  async start(): Promise<void> {
    await this.recover();
    this.stopped = false;
    this.running = Array.from({ length: this.lanes }, (_, lane) => this.lane(lane));
    this.reaper = setInterval(() => {
      this.requeueExpiredLeases().catch((error) => this.options.logger.error({ err: error }, 'lease reaper failed'));
    }, this.leaseMs / 2);
    this.reaper.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.reaper);
    this.wake();
    await Promise.all(this.running);
    await this.options.dispatcher.close();
  }

  private async lane(lane: number): Promise<void> {
    const journal = new Journal(journalFile(this.options.journalDir, this.options.owner, lane));
    try {
      while (!this.stopped) {
        let claimed = 0;
        try {
          claimed = await this.runBatch(journal);
        } catch (error) {
          this.options.logger.error({ err: error }, 'delivery batch failed; its messages return after the lease');
          await new Promise((r) => setTimeout(r, this.pollMs));
        }
        if (claimed < this.batchSize && !this.stopped) await this.idle();
      }
    } finally {
      journal.close();
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.pollMs);
      this.wakers.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Claims, sends and records one batch. Returns how many messages it claimed. */
  async runBatch(journal: Journal): Promise<number> {
    let end = batchPhase.startTimer({ phase: 'claim' });
    const rows = await this.claim();
    end();
    if (rows.length === 0) return 0;
    end = batchPhase.startTimer({ phase: 'prepare' });
    const prepared = await this.options.dispatcher.prepare(rows, this.now());
    end();
    end = batchPhase.startTimer({ phase: 'send' });
    const settled = await this.send(prepared, journal);
    journal.flush();
    end();
    end = batchPhase.startTimer({ phase: 'record' });
    await this.record(rows, settled);
    end();
    journal.clear();
    for (const o of settled) outcomes.inc({ status: o.status });
    return rows.length;
  }

  private async claim(): Promise<MessageRow[]> {
    const { handle, owner } = this.options;
    const { db } = handle;
    const due = db
      .select({ id: messages.id })
      .from(messages)
      .where(and(eq(messages.status, 'queued'), lte(messages.notBefore, sql`now()`)))
      .orderBy(messages.notBefore)
      .limit(this.batchSize)
      .for('update', { skipLocked: true });
    const claimed = await db
      .update(messages)
      .set({
        status: 'sending',
        leaseOwner: owner,
        leaseUntil: sql`now() + ${`${this.leaseMs} milliseconds`}::interval`,
        attempts: sql`${messages.attempts} + 1`,
        updatedAt: sql`now()`,
      })
      // = any(array(...)), not in (...): the planner would hash the ids and scan the whole table.
      .where(sql`${messages.id} = any(array(${due}))`)
      .returning();
    // In the order they were queued (UUID v7), so caps let the earlier message through.
    return claimed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private async send(items: PreparedItem[], journal: Journal): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    let next = 0;
    const worker = async () => {
      while (next < items.length) {
        const item = items[next++]!;
        outcomes.push(await this.sendOne(item, journal));
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.sendConcurrency, items.length) }, worker));
    return outcomes;
  }

  private async sendOne(item: PreparedItem, journal: Journal): Promise<Outcome> {
    const base = {
      id: item.row.id,
      error: null,
      providerId: null,
      providerMessageId: null,
      notBefore: null,
      unconfirmed: false,
    };
    if (item.kind === 'skip') return { ...base, status: 'skipped', error: item.reason };
    if (item.kind === 'fail') return { ...base, status: 'failed', error: item.reason };
    if (item.kind === 'defer') return { ...base, status: 'queued', notBefore: item.until.toISOString() };
    const result = await item.send(() => journal.handed(item.row.id));
    if (result.ok) {
      journal.sent(item.row.id, result.providerMessageId);
      return { ...base, status: 'sent', providerId: result.providerId, providerMessageId: result.providerMessageId };
    }
    if (result.retryAt)
      return { ...base, status: 'queued', error: result.error, notBefore: result.retryAt.toISOString() };
    return { ...base, status: 'failed', error: result.error };
  }

  /** One transaction per batch: every row's outcome and every event it causes. */
  private async record(rows: MessageRow[], outcomes: Outcome[]): Promise<void> {
    const byId = new Map(rows.map((r) => [r.id, r]));
    const events = outcomes.flatMap((o) => eventsOf(byId.get(o.id)!, o));
    await this.options.handle.db.transaction(async (tx) => {
      await tx.execute(sql`
        update ${messages} m set
          status = r.status,
          error = r.error,
          provider_id = coalesce(r.provider_id, m.provider_id),
          provider_message_id = coalesce(r.provider_message_id, m.provider_message_id),
          not_before = coalesce(r.not_before, m.not_before),
          unconfirmed = r.unconfirmed,
          -- A deferral (quiet hours) is not a try.
          attempts = case when r.status = 'queued' and r.error is null then m.attempts - 1 else m.attempts end,
          sent_at = case when r.status = 'sent' then now() else m.sent_at end,
          failed_at = case when r.status = 'failed' then now() else m.failed_at end,
          lease_owner = null, lease_until = null, updated_at = now()
        from json_to_recordset(${JSON.stringify(outcomes.map(toRecord))}::json)
          as r(id uuid, status text, error text, provider_id uuid, provider_message_id text,
               not_before timestamptz, unconfirmed boolean)
        where m.id = r.id and m.status = 'sending' and m.lease_owner = ${this.options.owner}`);
      await appendEvents(tx, outbox, events);
    });
  }

  /**
   * Settles what this engine held when it stopped: messages its journals say left are sent (those
   * handed over without a reply, `unconfirmed`); the rest of its claims return to the queue.
   */
  async recover(): Promise<void> {
    const { handle, owner, journalDir, logger } = this.options;
    const files = journalFiles(journalDir, owner);
    const state = readJournals(files);
    const held = await handle.db
      .select()
      .from(messages)
      .where(and(eq(messages.status, 'sending'), eq(messages.leaseOwner, owner)));
    if (held.length > 0) {
      const outcomes: Outcome[] = held.map((row) => {
        const providerMessageId = state.sent.get(row.id);
        const base = { id: row.id, error: null, providerId: row.providerId, notBefore: null };
        if (providerMessageId !== undefined)
          return { ...base, status: 'sent', providerMessageId: providerMessageId || null, unconfirmed: false };
        if (state.handed.has(row.id)) return { ...base, status: 'sent', providerMessageId: null, unconfirmed: true };
        return { ...base, status: 'queued', providerMessageId: null, unconfirmed: false };
      });
      await this.record(held, outcomes);
      const sent = outcomes.filter((o) => o.status === 'sent').length;
      logger.warn(
        { held: held.length, sent, unconfirmed: outcomes.filter((o) => o.unconfirmed).length },
        'settled the messages this engine held when it stopped',
      );
    }
    for (const file of files) new Journal(file).clear();
  }

  /** Claims of engines that never came back: their messages return to the queue. */
  async requeueExpiredLeases(): Promise<number> {
    const rows = await this.options.handle.rows(sql`
      update ${messages} set status = 'queued', lease_owner = null, lease_until = null, updated_at = now()
      where status = 'sending' and lease_until < now() and lease_owner <> ${this.options.owner}
      returning id`);
    if (rows.length)
      this.options.logger.warn({ count: rows.length }, 'requeued messages of an engine whose lease expired');
    return rows.length;
  }
}

function toRecord(o: Outcome) {
  return {
    id: o.id,
    status: o.status,
    error: o.error,
    provider_id: o.providerId,
    provider_message_id: o.providerMessageId,
    not_before: o.notBefore,
    unconfirmed: o.unconfirmed,
  };
}

function eventsOf(row: MessageRow, o: Outcome): EventEnvelope[] {
  const base = { organizationId: row.organizationId, subjectId: row.contactId ?? row.id, correlationId: row.id };
  if (o.status === 'sent') return [createEvent(catalogue.delivery.messageSent, { ...base, data: messageFacts(row) })];
  if (o.status === 'failed' || o.status === 'skipped') {
    const [reason, ...detail] = (o.error ?? 'provider_error').split(': ');
    return [
      createEvent(catalogue.delivery.messageFailed, {
        ...base,
        data: { ...messageFacts(row), reason: reason!, detail: detail.join(': ') || null },
      }),
    ];
  }
  return [];
}
