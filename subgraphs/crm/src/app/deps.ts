import type { DatabaseHandle, JobQueue, Logger } from '@mauntic/platform';

export interface CrmDeps {
  handle: DatabaseHandle;
  queue: JobQueue;
  logger: Logger;
  /** Injected so relative dates in segment filters can be pinned in tests. */
  now: () => Date;
}
