// Graceful shutdown: on SIGTERM/SIGINT run the registered steps in reverse order of
// registration (stop taking work, drain in-flight work, then close connections), bounded by a
// timeout, then exit.
import type { Logger } from '../logger.ts';

export class Shutdown {
  private readonly steps: { name: string; run: () => Promise<void> }[] = [];
  private running?: Promise<void>;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs = 15_000,
  ) {}

  /** Steps run last-registered first: register connections before the servers that use them. */
  add(name: string, run: () => Promise<void>): void {
    this.steps.push({ name, run });
  }

  run(reason = 'shutdown'): Promise<void> {
    if (!this.running) this.running = this.execute(reason);
    return this.running;
  }

  /** Installs SIGTERM/SIGINT handlers that shut down and exit. */
  installSignalHandlers(): void {
    const onSignal = (signal: string) => {
      this.run(signal).then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  private async execute(reason: string): Promise<void> {
    this.logger.info({ reason }, 'shutting down');
    const timer = setTimeout(() => {
      this.logger.error({ timeoutMs: this.timeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, this.timeoutMs);
    timer.unref();
    for (const step of [...this.steps].reverse()) {
      try {
        await step.run();
      } catch (error) {
        this.logger.error({ err: error, step: step.name }, 'shutdown step failed');
      }
    }
    clearTimeout(timer);
    this.logger.info('stopped');
  }
}
