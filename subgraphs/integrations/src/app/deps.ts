import type { DatabaseHandle, Logger } from '@mauntic/platform';

export interface IntegrationsDeps {
  handle: DatabaseHandle;
  logger: Logger;
}
