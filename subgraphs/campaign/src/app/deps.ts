import type { DatabaseHandle, Logger } from '@mauntic/platform';

export interface CampaignDeps {
  handle: DatabaseHandle;
  logger: Logger;
  /** Injected so tests can pin the clock. */
  now: () => Date;
}
