import type { DatabaseHandle, Logger } from '@mauntic/platform';

export interface IdentityDeps {
  handle: DatabaseHandle;
  logger: Logger;
  jwtKey: Uint8Array;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  invitationTtlSeconds: number;
}
