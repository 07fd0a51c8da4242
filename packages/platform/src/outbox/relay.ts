// Publishes committed outbox rows to the bus, then marks them published.
//
// A batch is claimed with a lease (claimed_until) in one statement, published with no
// transaction open, and then marked. A publish that fails (the broker restarting or away) gives
// the claim back at once, so the batch goes out first, in order, when the broker answers again,
// rather than after its lease behind newer events of the same subjects. A relay killed between
// publish and mark leaves the rows claimed; when the lease runs out they are published again, so
// delivery is at-least-once and consumers deduplicate by event id (processed-events.ts). Holding
// no transaction while publishing matters for PGlite, which runs one transaction at a time:
// embedded consumers write to the same database while the local bus delivers. And no statement
// here runs in a transaction: postgres.js (3.4.9) crashes the process when a transaction's
// connection drops, which a database restart does.
import type { EventEnvelope } from '@mauntic/kernel';
import { and, asc, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { EventBus } from '../bus/event-bus.ts';
import type { DatabaseHandle } from '../db/database.ts';
import type { Logger } from '../logger.ts';
import { metrics } from '../metrics.ts';
import { OUTBOX_CHANNEL } from './outbox.ts';
import type { OutboxTable } from './tables.ts';

type Claimed = { seq: number; envelope: EventEnvelope };

/** How far past its last claim a relay looks first, in batches (see claim()). */
const CLAIM_WINDOW_BATCHES = 10;

export interface OutboxRelayOptions {
  handle: DatabaseHandle;
  /** The context whose outbox this is, e.g. 'identity'. */
  context: string;
  table: OutboxTable;
  bus: EventBus;
  logger: Logger;
  batchSize?: number;
  /** Fallback poll when no NOTIFY arrives. */
  pollIntervalMs?: number;
  /** How long a claimed batch is reserved for this relay before another may publish it. */
  leaseMs?: number;
  /** Published rows older than this are deleted. */
  retentionMs?: number;
  /** Test hook: runs after a batch is published and before it is marked. */
  afterPublish?: (events: EventEnvelope[]) => void | Promise<void>;
}

export class OutboxRelay {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  /** Set by a NOTIFY that arrives while a batch is being published, so it is not lost. */
  private pending = false;
  private unlisten?: () => Promise<void>;
  private lastCleanup = 0;
  /** The highest seq of the last batch this relay claimed, where its next claim looks first. */
  private claimedUpTo?: number;
  private readonly batchSize: number;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly retentionMs: number;

  constructor(private readonly options: OutboxRelayOptions) {
    this.batchSize = options.batchSize ?? 500;
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.leaseMs = options.leaseMs ?? 30_000;
    this.retentionMs = options.retentionMs ?? 24 * 3600_000;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unlisten = await this.listen();
    this.loop = this.run();
  }

  /** Publishes what is pending now, without waiting for a NOTIFY. */
  nudge(): void {
    this.pending = true;
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.unlisten?.();
  }

  /** Claims, publishes and marks one batch. Returns how many events it published. */
  async publishBatch(): Promise<number> {
    const claimed = await this.claim();
    if (claimed.length === 0) return 0;
    await this.publishClaimed(claimed);
    await this.mark(claimed);
    return claimed.length;
  }

  /**
   * Publishes until nothing is pending, as a pipeline: while one batch is published, the next
   * is claimed and the one before is marked, so a batch costs the longest of the three round trips
   * rather than their sum. Publishes still go one after the other, in claim order, so each
   * subject's events keep their order. When a publish fails, its batch and the one claimed
   * ahead of it are given back; when a mark fails, the batch stays claimed and is published again
   * once its lease runs out, as when a relay dies between publish and mark.
   */
  async drain(): Promise<number> {
    let total = 0;
    let marking: Promise<void> = Promise.resolve();
    let claimed = await this.claim();
    while (claimed.length > 0) {
      const next = this.claim();
      const [published, marked, ahead] = await Promise.allSettled([this.publishClaimed(claimed), marking, next]);
      const failure = [published, marked, ahead].find((r) => r.status === 'rejected');
      if (failure) {
        if (ahead.status === 'fulfilled') await this.giveBack(ahead.value);
        // Published: marked now, or, if the database is away, published again after its lease.
        if (published.status === 'fulfilled' && marked.status === 'fulfilled') await this.mark(claimed).catch(() => {});
        throw failure.reason;
      }
      total += claimed.length;
      marking = this.mark(claimed);
      claimed = (ahead as PromiseFulfilledResult<Claimed[]>).value;
    }
    await marking;
    return total;
  }

  /**
   * Reserves the next batch of unpublished rows for this relay, oldest first, for the lease.
   * It looks first in a window just past the last row it claimed, so a claim reads about a batch
   * of rows however large the backlog, whatever the planner believes: with statistics older than
   * a burst (an outbox not analysed since it filled) it reads and sorts every pending row for each
   * batch, measured at 143 ms a batch with 100k pending against 18 ms in the window. Only when the window holds nothing claimable does it look at the whole
   * outbox, which also finds rows committed late below the window and rows given back.
   */
  private async claim(): Promise<Claimed[]> {
    const after = this.claimedUpTo;
    let claimed =
      after === undefined ? [] : await this.claimWhere(after, after + this.batchSize * CLAIM_WINDOW_BATCHES);
    if (claimed.length === 0) claimed = await this.claimWhere();
    claimed.sort((a, b) => a.seq - b.seq);
    this.claimedUpTo = claimed.at(-1)?.seq;
    return claimed;
  }

  private async claimWhere(after?: number, upTo?: number): Promise<Claimed[]> {
    const { handle, table } = this.options;
    const due = handle.db
      .select({ seq: table.seq })
      .from(table)
      .where(
        and(
          isNull(table.publishedAt),
          after === undefined ? undefined : and(gt(table.seq, after), lte(table.seq, upTo!)),
          or(isNull(table.claimedUntil), lt(table.claimedUntil, sql`now()`)),
        ),
      )
      .orderBy(asc(table.seq))
      .limit(this.batchSize)
      .for('update', { skipLocked: true });
    return (await handle.db
      .update(table)
      .set({ claimedUntil: sql`now() + ${`${this.leaseMs} milliseconds`}::interval` })
      .where(inArray(table.seq, due))
      .returning({ seq: table.seq, envelope: table.envelope })) as Claimed[];
  }

  /** Publishes a claimed batch; if that fails, gives the claim back before throwing. */
  private async publishClaimed(claimed: Claimed[]): Promise<void> {
    const events = claimed.map((row) => row.envelope);
    try {
      await this.options.bus.publish(events);
    } catch (error) {
      await this.giveBack(claimed);
      throw error;
    }
    await this.options.afterPublish?.(events);
  }

  /** Given back for the next try; if the database is away too, the lease gives them back. */
  private async giveBack(claimed: Claimed[]): Promise<void> {
    if (claimed.length === 0) return;
    this.claimedUpTo = undefined;
    const { handle, table } = this.options;
    await handle.db
      .update(table)
      .set({ claimedUntil: null })
      .where(
        inArray(
          table.seq,
          claimed.map((row) => row.seq),
        ),
      )
      .catch((err: unknown) =>
        this.options.logger.warn({ err, context: this.options.context }, 'could not give back an unpublished batch'),
      );
  }

  private async mark(claimed: Claimed[]): Promise<void> {
    const { handle, table } = this.options;
    await handle.db
      .update(table)
      .set({ publishedAt: sql`now()` })
      .where(
        inArray(
          table.seq,
          claimed.map((row) => row.seq),
        ),
      );
  }

  private async run(): Promise<void> {
    const { logger, context } = this.options;
    let failures = 0;
    while (this.running) {
      this.pending = false;
      try {
        const published = await this.drain();
        if (published > 0) logger.debug({ context, published }, 'outbox published');
        await this.cleanup();
        failures = 0;
      } catch (error) {
        failures++;
        logger.error({ err: error, context, failures }, 'outbox relay failed; will retry');
      }
      if (!this.running) break;
      if (this.pending) continue;
      await new Promise<void>((resolve) => {
        const delay = failures ? Math.min(30_000, this.pollIntervalMs * 2 ** failures) : this.pollIntervalMs;
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private async cleanup(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCleanup < 60_000) return;
    this.lastCleanup = now;
    const { handle, table, context } = this.options;
    await handle.db
      .delete(table)
      .where(lt(table.publishedAt, sql`now() - ${`${this.retentionMs} milliseconds`}::interval`));
    const [row] = await handle.rows<{ n: number }>(
      sql`select count(*)::int as n from ${table} where ${table.publishedAt} is null`,
    );
    metrics.outboxPending.set({ context }, row?.n ?? 0);
  }

  private async listen(): Promise<() => Promise<void>> {
    const { handle, context } = this.options;
    const onNotify = (payload: string) => {
      if (payload === context) this.nudge();
    };
    if (handle.kind === 'pglite') {
      const pg = handle.client as import('@electric-sql/pglite').PGlite;
      const unsubscribe = await pg.listen(OUTBOX_CHANNEL, onNotify);
      return unsubscribe;
    }
    const client = handle.client as import('postgres').Sql;
    const { unlisten } = await client.listen(OUTBOX_CHANNEL, onNotify);
    return unlisten;
  }
}
