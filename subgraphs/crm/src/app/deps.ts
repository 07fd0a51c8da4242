import type { DatabaseHandle, Executor, JobQueue, Logger } from '@mauntic/platform';

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

/** The deps with every query inside `tx`: a use case's own transaction becomes a savepoint of it. */
export const inTransaction = (deps: CrmDeps, tx: Executor): CrmDeps => ({
  ...deps,
  handle: {
    ...deps.handle,
    db: tx as DatabaseHandle['db'],
    rows: (query, executor = tx) => deps.handle.rows(query, executor),
  },
});
