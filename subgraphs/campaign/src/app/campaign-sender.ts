// The fan-out's loop: starts the campaigns due to start, chooses A/B winners whose window passed, and hands each sending campaign's
// recipients to delivery, batch after batch, until there is nothing to do; then it polls. Run by
// workers/campaign-sender (cluster) and in-process by `pnpm start` (embedded). Several may run at
// once: each campaign's batch is taken by one of them at a time (its row lock, skip locked).
import type { DatabaseHandle, Logger } from '@mauntic/platform';
import { decideDueWinners } from './ab-test.ts';
import type { CampaignDeps } from './deps.ts';
import { handOver, sendingCampaigns, startDueCampaigns } from './fan-out.ts';

export interface CampaignSenderOptions {
  handle: DatabaseHandle;
  logger: Logger;
  now?: () => Date;
  /** Recipients handed over per transaction. */
  batchSize?: number;
  /** How often it looks for work when it has none. */
  pollMs?: number;
  /** Called after each batch with how many requests it wrote (metrics, the benchmark). */
  onBatch?: (requested: number) => void;
}

export class CampaignSender {
  private readonly deps: CampaignDeps;
  private readonly batchSize: number;
  private readonly pollMs: number;
  private running = false;
  private stopping = false;
  private loop?: Promise<void>;
  private wake?: () => void;

  constructor(private readonly options: CampaignSenderOptions) {
    this.deps = { handle: options.handle, logger: options.logger, now: options.now ?? (() => new Date()) };
    this.batchSize = options.batchSize ?? 5000;
    this.pollMs = options.pollMs ?? 250;
  }

  start(): Promise<void> {
    if (!this.running) {
      this.running = true;
      this.loop = this.run();
    }
    return Promise.resolve();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.wake?.();
    await this.loop;
  }

  /** One pass over the work there is now; returns how many requests it wrote. */
  async tick(): Promise<number> {
    await startDueCampaigns(this.deps);
    await decideDueWinners(this.deps);
    let requested = 0;
    for (const id of await sendingCampaigns(this.deps)) {
      for (;;) {
        const batch = await handOver(this.deps, id, this.batchSize);
        requested += batch.requested;
        if (batch.requested) this.options.onBatch?.(batch.requested);
        if (batch.idle || this.stopping) break;
      }
    }
    return requested;
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if ((await this.tick()) > 0) continue;
      } catch (error) {
        this.options.logger.error({ err: error }, 'campaign fan-out failed; retrying');
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }
}
