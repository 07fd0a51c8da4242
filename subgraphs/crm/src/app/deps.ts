import type { DatabaseHandle, JobQueue, Logger } from '@mauntic/platform';

export interface CrmDeps {
  handle: DatabaseHandle;
  queue: JobQueue;
  logger: Logger;
  /** Injected so relative dates in segment filters can be pinned in tests. */
  now: () => Date;
  /** How often segments whose filters read the clock ("-30 days") are rebuilt. */
  refreshIntervalMs?: number;
  /** Signs download links (contact exports): the internal context secret in a deployment. */
  signingKey?: Uint8Array;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 15 * 60_000;
