// The executor's loops in one object, as the worker (workers/journey-executor) and embedded mode
// run them: steppers (lanes) that claim and walk batches of runs, a sweeper that wakes them when
// a waiting run falls due, the scheduled triggers (date fields, schedules) once a minute, and
// the consumer of other contexts' events (run-events.ts), which the caller subscribes on its bus.
import type { DatabaseHandle, Logger, Subscription } from '@mauntic/platform';
import { RUNS_CHANNEL } from './enter.ts';
import { runEventsSubscription } from './run-events.ts';
import { runScheduledTriggers } from './scheduled-triggers.ts';
import { type BatchStats, Stepper } from './stepper.ts';

export interface JourneyExecutorOptions {
  handle: DatabaseHandle;
  logger: Logger;
  /** This executor's name in leases; stable across restarts (the pod name), unique among executors. */
  owner: string;
  now?: () => Date;
  /** Runs claimed at once per lane. */
  batchSize?: number;
  /** Due delays a lane wakes at once, set-based (Stepper.wakeDelays). */
  wakeSize?: number;
  /** Due delays are woken set-based while more than this many are due (default: lanes × batch size; 0: always). */
  wakeOver?: number;
  /** Batches in flight at once. */
  lanes?: number;
  /** How long a claimed run is this executor's before another may take it. */
  leaseMs?: number;
  /** How often a lane looks for work when nothing woke it. */
  pollMs?: number;
  /** How often the sweeper reads the due index at most (it sleeps until the next due time if sooner). */
  sweepMs?: number;
  /** How often date and schedule triggers are evaluated. */
  scheduleMs?: number;
  /** Called after every batch that claimed runs (metrics, benchmarks). */
  onBatch?: (stats: BatchStats) => void;
}

export class JourneyExecutor {
  readonly stepper: Stepper;
  private readonly now: () => Date;
  private stopped = true;
  private loops: Promise<void>[] = [];
  private wakers: (() => void)[] = [];
  private sleeping: (() => void)[] = [];
  private unlisten?: () => Promise<void>;
  /** More delays are due than the lanes walk in a round: they are woken set-based (turn()). */
  private flood = false;

  constructor(private readonly options: JourneyExecutorOptions) {
    this.now = options.now ?? (() => new Date());
    this.stepper = new Stepper({ ...options, now: this.now });
  }

  /** The consumer of other contexts' events: register it on the bus before the bus starts. */
  subscription(): Subscription {
    return runEventsSubscription({ ...this.options, now: this.now }, () => this.wake());
  }

  async start(): Promise<void> {
    // Whatever this name held when its process died is ours to walk again now.
    await this.stepper.releaseLeases();
    this.unlisten = await this.listen();
    this.stopped = false;
    const lanes = this.options.lanes ?? 2;
    this.loops = [
      ...Array.from({ length: lanes }, () => this.lane()),
      this.sweeper(),
      this.every(this.options.scheduleMs ?? 60_000, () => runScheduledTriggers({ ...this.options, now: this.now })),
    ];
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.wake();
    for (const wake of this.sleeping.splice(0)) wake();
    await Promise.all(this.loops);
    await this.unlisten?.();
    // Runs claimed but not walked go back at once rather than when their lease runs out.
    await this.stepper.releaseLeases();
  }

  /** Makes idle lanes look for work now. */
  wake(): void {
    for (const wake of this.wakers.splice(0)) wake();
  }

  private async lane(): Promise<void> {
    while (!this.stopped) {
      let more = false;
      try {
        more = (await this.turn()).more;
      } catch (error) {
        this.options.logger.error({ err: error }, 'journey batch failed; its runs return when their lease runs out');
        await this.sleep(this.options.pollMs ?? 1000);
      }
      if (!more && !this.stopped) await this.idle();
    }
  }

  /**
   * One turn of a lane. Many delays falling due at once is what a walk is slowest at: once a lane
   * walked a full batch and more delays are due than the lanes walk in a round, they are woken
   * set-based first, chunk after chunk, until a chunk comes back short. Otherwise (and when few
   * fall due, the walk then also taking the steps after them at once) it walks one batch.
   * `more`: there may be work left now.
   */
  async turn(): Promise<BatchStats & { more: boolean }> {
    const { onBatch } = this.options;
    const over = this.options.wakeOver ?? (this.options.lanes ?? 2) * this.stepper.batchSize;
    let woken: BatchStats = { claimed: 0, transitions: 0, lost: 0 };
    if (this.flood || over === 0) {
      woken = await this.stepper.wakeDelays();
      if (woken.claimed) onBatch?.(woken);
      if (woken.claimed === this.stepper.wakeSize && woken.transitions > 0) return { ...woken, more: true };
      this.flood = false;
    }
    const walked = await this.stepper.runBatch();
    if (walked.claimed) onBatch?.(walked);
    const full = walked.claimed >= this.stepper.batchSize;
    if (full && !this.flood && over > 0) this.flood = await this.stepper.dueDelaysOver(over);
    return {
      claimed: woken.claimed + walked.claimed,
      transitions: woken.transitions + walked.transitions,
      lost: walked.lost,
      more: full || this.flood,
    };
  }

  /** Wakes the lanes when the earliest waiting run falls due, reading only the head of the due index. */
  private async sweeper(): Promise<void> {
    const most = this.options.sweepMs ?? 250;
    while (!this.stopped) {
      let wait = most;
      try {
        const next = await this.stepper.nextDue();
        if (next) {
          const until = next.getTime() - this.now().getTime();
          if (until <= 0) this.wake();
          // Due now but the lanes are busy: look again shortly rather than spin.
          wait = until <= 0 ? Math.min(most, 50) : Math.min(most, until);
        }
      } catch (error) {
        this.options.logger.error({ err: error }, 'journey sweeper failed; will retry');
      }
      await this.sleep(wait);
    }
  }

  private async every(ms: number, work: () => Promise<unknown>): Promise<void> {
    while (!this.stopped) {
      try {
        if (await work()) this.wake();
      } catch (error) {
        this.options.logger.error({ err: error }, 'scheduled journey triggers failed; will retry');
      }
      await this.sleep(ms);
    }
  }

  private idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.options.pollMs ?? 1000);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakers.push(done);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const sleeping = this.sleeping;
      function done() {
        clearTimeout(timer);
        const i = sleeping.indexOf(done);
        if (i >= 0) sleeping.splice(i, 1);
        resolve();
      }
      sleeping.push(done);
    });
  }

  /** Runs entered by another process (a trigger, an enrollment) wake this one's lanes. */
  private async listen(): Promise<() => Promise<void>> {
    const { handle } = this.options;
    const onNotify = () => this.wake();
    if (handle.kind === 'pglite') return (handle.client as unknown as PgliteListen).listen(RUNS_CHANNEL, onNotify);
    const { unlisten } = await (handle.client as unknown as PostgresListen).listen(RUNS_CHANNEL, onNotify);
    return unlisten;
  }
}

// The LISTEN of each driver, as far as the executor uses it.
type PgliteListen = { listen(channel: string, fn: () => void): Promise<() => Promise<void>> };
type PostgresListen = { listen(channel: string, fn: () => void): Promise<{ unlisten: () => Promise<void> }> };
