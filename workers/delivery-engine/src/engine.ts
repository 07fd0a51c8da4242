// The delivery engine: claims queued messages in batches, checks policy, renders, sends through
// each organization's provider, and records the outcome with its events — all set-based, one
// claim and one statement to record per batch.
//
// Exactly-once in effect:
// - a message row exists once per (organization, idempotency key) (unique index);
// - a batch is claimed with a lease naming this engine (`sending`), renewed while the engine holds
//   the batch, so no other engine sends it;
// - every hand-over and acceptance is written to the lane's journal before anything else happens;
// - a batch is recorded with its events in one statement, tried again until it commits (a dropped
//   connection, a database restarting or failing over); the lane claims nothing more meanwhile,
//   and clears its journal only once the batch is recorded;
// - what this engine holds that none of its lanes knows of is settled through its journals: at
//   start everything it held when it stopped, later a claim whose answer it never got. Journaled
//   messages are marked sent, the rest go back to the queue;
// - leases of engines that never come back expire and are requeued by the others (their in-flight
//   messages may then go twice: see docs/exactly-once.md), but only by an engine that has reached the
//   database for a whole lease, so an outage of the database is not taken for the death of every
//   engine.
// No statement runs in a transaction: postgres.js (3.4.9) crashes the process when a transaction's
// connection drops (it writes its ROLLBACK to the closed socket), and the engine must live through
// exactly that.
// The bus only wakes the engine; the message table is the source of truth, so a lost or repeated
// `delivery.message.queued` event neither loses nor duplicates a message.

import {
  type DeliveryDispatcher,
  messageFacts,
  messages,
  outbox,
  type PreparedItem,
  tenantVisibleError,
} from '@mauntic/delivery/engine';
import { catalogue, contextOf, createEvent, type EventEnvelope } from '@mauntic/kernel';
import {
  contextFromTraceparent,
  type DatabaseHandle,
  inSpan,
  type Logger,
  OUTBOX_CHANNEL,
  outboxRow,
  registry,
  SpanKind,
  type Subscription,
  tracing,
} from '@mauntic/platform';
import { and, eq, lte, notInArray, sql } from 'drizzle-orm';
import { Counter, Histogram } from 'prom-client';
import { clearJournals, Journal, type JournalState, journalFile, journalFiles, readJournals } from './journal.ts';
import { reportQueueDepth } from './queue-depth.ts';

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
  /** This engine's name in leases and journal files; stable across restarts and unique among running engines (the pod name). */
  owner: string;
  journalDir: string;
  /** Messages claimed at once per lane. */
  batchSize?: number;
  /** Batches in flight at once; each has its own journal. */
  lanes?: number;
  /** Sends in flight at once per lane. */
  sendConcurrency?: number;
  /** How long a claim is reserved for this engine; renewed every quarter of it while held. */
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
  /** The pool IP and sending domain an email left from (or was refused at). */
  sendingIp?: string | null;
  sendingDomain?: string | null;
}

/** Thrown out of a lane that stops while it cannot record its batch: the journal keeps it for the next start. */
class Stopping extends Error {
  constructor() {
    super('the engine is stopping');
  }
}

/** Backoff between tries against a database that does not answer: 100 ms, 200 ms ... capped at 2 s. */
const retryDelayMs = (attempt: number) => Math.min(2000, 50 * 2 ** attempt);

export class DeliveryEngine {
  private readonly batchSize: number;
  private readonly lanes: number;
  private readonly sendConcurrency: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly now: () => Date;
  private state: 'idle' | 'running' | 'stopping' = 'idle';
  private running: Promise<void>[] = [];
  /** Lanes waiting for work. */
  private wakers: (() => void)[] = [];
  /** Retries waiting out their backoff: they end early when the engine stops. */
  private sleepers: (() => void)[] = [];
  private heartbeat?: NodeJS.Timeout;
  private beating = false;
  /** Batches claimed and not yet recorded: no settlement of orphans may touch them. */
  private readonly held = new Set<MessageRow[]>();
  /** Claims and settlements of orphans take turns, so a claim just made is never taken for an orphan. */
  private turn: Promise<unknown> = Promise.resolve();
  /** A claim failed: it may have committed without its answer reaching us. */
  private orphansSuspected = false;
  /** Since when (ms) every heartbeat has reached the database. */
  private reachableSince?: number;
  private stopReportingDepth?: () => void;

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

  /** Settles what the engine held when it stopped (waiting for the database if need be), then runs. */
  async start(): Promise<void> {
    this.state = 'running';
    await this.persist('settle what this engine held when it stopped', () => this.recover());
    this.reachableSince = Date.now();
    this.running = Array.from({ length: this.lanes }, (_, lane) => this.lane(lane));
    this.heartbeat = setInterval(() => void this.beat(), this.leaseMs / 4);
    this.heartbeat.unref();
    this.stopReportingDepth = reportQueueDepth(this.options.handle, this.options.logger);
  }

  async stop(): Promise<void> {
    this.state = 'stopping';
    clearInterval(this.heartbeat);
    this.stopReportingDepth?.();
    this.wake();
    for (const s of this.sleepers.splice(0)) s();
    await Promise.all(this.running);
    await this.options.dispatcher.close();
  }

  private async lane(lane: number): Promise<void> {
    const journal = new Journal(journalFile(this.options.journalDir, this.options.owner, lane));
    let failures = 0;
    try {
      while (this.state === 'running') {
        let claimed = 0;
        try {
          claimed = await this.runBatch(journal);
          failures = 0;
        } catch (error) {
          if (error instanceof Stopping) break;
          failures++;
          this.options.logger.error({ err: error, failures }, 'delivery engine could not claim a batch; trying again');
          await this.sleep(retryDelayMs(failures));
          continue;
        }
        if (claimed < this.batchSize && this.state === 'running') await this.idle();
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

  private stopping(): boolean {
    return this.state === 'stopping';
  }

  /** Waits `ms`, or less if the engine stops. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.sleepers.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Claims, sends and records one batch. Returns how many messages it claimed. Recording is tried
   * until it commits (or the engine stops), so the journal always holds one batch at most.
   */
  async runBatch(journal: Journal): Promise<number> {
    if (this.orphansSuspected) await this.settleOrphans({ expiredOnly: false });
    let end = batchPhase.startTimer({ phase: 'claim' });
    const rows = await this.claim();
    end();
    if (rows.length === 0) return 0;
    try {
      const settled = await this.sendBatch(rows, journal);
      end = batchPhase.startTimer({ phase: 'record' });
      await this.persist('record a sent batch before claiming more', () => this.record(rows, settled));
      end();
      journal.clear();
      for (const o of settled) outcomes.inc({ status: o.status });
    } finally {
      this.held.delete(rows);
    }
    return rows.length;
  }

  /** Claims due messages; they are held from the moment the claim's answer arrives. */
  private claim(): Promise<MessageRow[]> {
    return this.inTurn(async () => {
      let rows: MessageRow[];
      try {
        rows = await this.claimDue();
      } catch (error) {
        this.orphansSuspected = true;
        throw error;
      }
      if (rows.length > 0) this.held.add(rows);
      return rows;
    });
  }

  private async claimDue(): Promise<MessageRow[]> {
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

  /**
   * Prepares and sends a claimed batch; each message's outcome. If preparing fails (its reads lost
   * the database), nothing was sent and the whole batch goes back to the queue.
   */
  private async sendBatch(rows: MessageRow[], journal: Journal): Promise<Outcome[]> {
    let end = batchPhase.startTimer({ phase: 'prepare' });
    let prepared: PreparedItem[];
    try {
      prepared = await this.options.dispatcher.prepare(rows, this.now());
    } catch (error) {
      this.options.logger.error(
        { err: error, messages: rows.length },
        'could not prepare a batch; it goes back to the queue',
      );
      return rows.map((row) => fromJournal(row, EMPTY_JOURNAL));
    } finally {
      end();
    }
    end = batchPhase.startTimer({ phase: 'send' });
    // Never rejects: every failure of a send is an outcome (see the dispatcher's sendWith).
    const settled = await this.send(prepared, journal);
    journal.flush();
    end();
    try {
      await this.options.dispatcher.settle(this.now());
    } catch (error) {
      // Kept for the next batch: reputation hears of it a little later.
      this.options.logger.warn({ err: error }, 'could not record what the sends said about the sending IPs');
    }
    return settled;
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
    const base: Omit<Outcome, 'status'> & { error: null } = {
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
    const result = tracing.enabled
      ? await this.tracedSend(item, journal)
      : await item.send(() => journal.handed(item.row.id));
    base.sendingIp = result.sendingIp ?? null;
    base.sendingDomain = result.sendingDomain ?? null;
    if (result.ok) {
      journal.sent(item.row.id, result.providerMessageId);
      return { ...base, status: 'sent', providerId: result.providerId, providerMessageId: result.providerMessageId };
    }
    // Not tried (its provider could not be reached for reasons of ours): again soon, not counted.
    if (result.error === null) return { ...base, status: 'queued', notBefore: result.retryAt.toISOString() };
    if (result.retryAt)
      return { ...base, status: 'queued', error: result.error, notBefore: result.retryAt.toISOString() };
    return { ...base, status: 'failed', error: result.error };
  }

  /**
   * Tracing on: the send as a CLIENT span in the trace of the request that queued the message (its
   * stored traceparent), so one trace runs from the gateway to the provider's answer.
   */
  private tracedSend(item: Extract<PreparedItem, { kind: 'send' }>, journal: Journal) {
    const { row } = item;
    return inSpan(
      `send ${row.channel}`,
      {
        kind: SpanKind.CLIENT,
        parent: contextFromTraceparent(row.traceParent),
        attributes: { 'mauntic.message.id': row.id, 'mauntic.channel': row.channel, 'mauntic.source': row.sourceKind },
      },
      async (span) => {
        const result = await item.send(() => journal.handed(row.id));
        span.setAttribute('mauntic.outcome', result.ok ? 'sent' : result.error === null ? 'not_tried' : 'failed');
        if (result.ok && result.providerId) span.setAttribute('mauntic.provider.id', result.providerId);
        if (!result.ok && result.error) span.setAttribute('error.type', result.error.split(':')[0]!);
        return result;
      },
    );
  }

  /** Runs `fn` until it succeeds, waiting longer after each failure; gives up only when the engine stops. */
  private async persist<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (this.stopping()) throw new Stopping();
        this.options.logger.error({ err: error, attempt }, `could not ${what}; trying again`);
        await this.sleep(retryDelayMs(attempt));
        if (this.stopping()) throw new Stopping();
      }
    }
  }

  /**
   * One statement per batch: every row's outcome, and the events of the rows it updated. Run
   * again after a commit whose answer was lost, it updates nothing and adds no event.
   */
  private async record(rows: MessageRow[], outcomes: Outcome[]): Promise<void> {
    const { handle, owner, logger } = this.options;
    const byId = new Map(rows.map((r) => [r.id, r]));
    const events = outcomes.flatMap((o) =>
      eventsOf(byId.get(o.id)!, o).map((event) => ({ message_id: o.id, ...outboxRow(event) })),
    );
    const [result] = await handle.rows<{ recorded: number }>(sql`
      with r as (
        select * from json_to_recordset(${JSON.stringify(outcomes.map(toRecord))}::json)
          as r(id uuid, status text, error text, provider_id uuid, provider_message_id text,
               not_before timestamptz, unconfirmed boolean, sending_ip text, sending_domain text)
      ), recorded as (
        update ${messages} m set
          status = r.status,
          error = r.error,
          provider_id = coalesce(r.provider_id, m.provider_id),
          provider_message_id = coalesce(r.provider_message_id, m.provider_message_id),
          not_before = coalesce(r.not_before, m.not_before),
          unconfirmed = r.unconfirmed,
          sending_ip = coalesce(r.sending_ip, m.sending_ip),
          sending_domain = coalesce(r.sending_domain, m.sending_domain),
          -- A deferral (quiet hours, a provider not reachable) is not a try.
          attempts = case when r.status = 'queued' and r.error is null then m.attempts - 1 else m.attempts end,
          sent_at = case when r.status = 'sent' then now() else m.sent_at end,
          failed_at = case when r.status = 'failed' then now() else m.failed_at end,
          lease_owner = null, lease_until = null, updated_at = now()
        from r
        where m.id = r.id and m.status = 'sending' and m.lease_owner = ${owner}
        returning m.id
      ), appended as (
        insert into ${outbox} (id, organization_id, topic, key, type, envelope)
        select e.id, e.organization_id, e.topic, e.key, e.type, e.envelope
        from json_to_recordset(${JSON.stringify(events)}::json)
          as e(message_id uuid, id uuid, organization_id uuid, topic text, key text, type text, envelope json)
        join recorded on recorded.id = e.message_id
        returning 1
      )
      select (select count(*)::int from recorded) as recorded,
        case when exists (select 1 from appended) then pg_notify(${OUTBOX_CHANNEL}, ${contextOf(catalogue.delivery.messageSent.type)}) end as notified`);
    const lost = outcomes.length - result!.recorded;
    if (lost > 0)
      logger.warn(
        { messages: lost },
        'messages of a batch were no longer leased to this engine when it recorded them (recorded before, or taken back after the lease ran out)',
      );
  }

  /**
   * Settles what this engine holds that none of its lanes does: messages its journals say left are
   * sent (those handed over without a reply, `unconfirmed`); the rest go back to the queue. With
   * `expiredOnly`, only claims whose lease has run out.
   */
  private settleOrphans({ expiredOnly }: { expiredOnly: boolean }): Promise<void> {
    return this.inTurn(async () => {
      const { handle, owner, journalDir, logger } = this.options;
      const held = [...this.held].flatMap((batch) => batch.map((row) => row.id));
      const orphans = await handle.db
        .select()
        .from(messages)
        .where(
          and(
            eq(messages.status, 'sending'),
            eq(messages.leaseOwner, owner),
            notInArray(messages.id, held),
            expiredOnly ? sql`${messages.leaseUntil} < now()` : undefined,
          ),
        );
      if (orphans.length > 0) {
        const state = readJournals(journalFiles(journalDir, owner));
        const settled = orphans.map((row) => fromJournal(row, state));
        await this.record(orphans, settled);
        logger.warn(
          {
            held: orphans.length,
            sent: settled.filter((o) => o.status === 'sent').length,
            unconfirmed: settled.filter((o) => o.unconfirmed).length,
          },
          'settled messages this engine held that none of its lanes did',
        );
      }
      // Every claim that may have been lost is settled now (claims wait for their turn).
      if (!expiredOnly) this.orphansSuspected = false;
    });
  }

  /** Settles everything this engine held when it stopped, then empties its journals. */
  async recover(): Promise<void> {
    await this.settleOrphans({ expiredOnly: false });
    clearJournals(journalFiles(this.options.journalDir, this.options.owner));
  }

  /** Runs `fn` when no claim or settlement of orphans is running. */
  private inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.turn.then(fn);
    this.turn = result.catch(() => undefined);
    return result;
  }

  /**
   * Every quarter lease: renews the leases of the batches in flight, settles expired orphans, and
   * requeues the expired leases of other engines once the database has answered for a whole lease.
   */
  private async beat(): Promise<void> {
    if (this.beating || this.state !== 'running') return;
    this.beating = true;
    try {
      try {
        await this.renewLeases();
        this.reachableSince ??= Date.now();
      } catch (error) {
        this.reachableSince = undefined;
        this.options.logger.warn({ err: error }, 'could not renew the leases of the batches in flight');
        return;
      }
      await this.settleOrphans({ expiredOnly: true });
      if (Date.now() - this.reachableSince >= this.leaseMs) await this.requeueExpiredLeases();
    } catch (error) {
      this.options.logger.error({ err: error }, 'lease upkeep failed');
    } finally {
      this.beating = false;
    }
  }

  private async renewLeases(): Promise<void> {
    const { handle, owner } = this.options;
    const held = [...this.held].flatMap((batch) => batch.map((row) => row.id));
    if (held.length === 0) return handle.ping();
    await handle.rows(sql`
      update ${messages} set lease_until = now() + ${`${this.leaseMs} milliseconds`}::interval
      where status = 'sending' and lease_owner = ${owner}
        and id = any(array(select jsonb_array_elements_text(${JSON.stringify(held)}::jsonb)::uuid))`);
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

const EMPTY_JOURNAL: JournalState = { sent: new Map(), handed: new Set() };

/** A held message's outcome by the journal: sent if it left, else back to the queue (not a try). */
function fromJournal(row: MessageRow, state: JournalState): Outcome {
  const providerMessageId = state.sent.get(row.id);
  const base = { id: row.id, error: null, providerId: row.providerId, notBefore: null };
  if (providerMessageId !== undefined)
    return { ...base, status: 'sent', providerMessageId: providerMessageId || null, unconfirmed: false };
  if (state.handed.has(row.id)) return { ...base, status: 'sent', providerMessageId: null, unconfirmed: true };
  return { ...base, status: 'queued', providerMessageId: null, unconfirmed: false };
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
    sending_ip: o.sendingIp ?? null,
    sending_domain: o.sendingDomain ?? null,
  };
}

function eventsOf(row: MessageRow, o: Outcome): EventEnvelope[] {
  return outcomeEvents(row, o).map((event) => (row.traceParent ? { ...event, traceparent: row.traceParent } : event));
}

function outcomeEvents(row: MessageRow, o: Outcome): EventEnvelope[] {
  const base = { organizationId: row.organizationId, subjectId: row.contactId ?? row.id, correlationId: row.id };
  if (o.status === 'sent') return [createEvent(catalogue.delivery.messageSent, { ...base, data: messageFacts(row) })];
  if (o.status === 'failed' || o.status === 'skipped') {
    // The organization's own integrations read this: connection details stay in the row and the log.
    const [reason, ...detail] = (tenantVisibleError(o.error) ?? 'provider_error').split(': ');
    return [
      createEvent(catalogue.delivery.messageFailed, {
        ...base,
        data: { ...messageFacts(row), reason: reason!, detail: detail.join(': ') || null },
      }),
    ];
  }
  return [];
}
