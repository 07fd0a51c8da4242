// The identity deployable's configuration; docs/configuration.md lists every variable.
import {
  busModel,
  databaseModel,
  logModel,
  parseEnvironment,
  queueModel,
  secretsModel,
  serverModel,
} from '@mauntic/platform';
import { z } from 'zod';

export const identityModel = z.object({
  AUTH_ACCESS_TOKEN_TTL_SECONDS: z.coerce.number().int().min(30).max(86_400).default(900),
  AUTH_REFRESH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(30 * 86_400),
  AUTH_INVITATION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .default(7 * 86_400),
});

export const parseIdentityEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    {
      server: serverModel(4001),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
      identity: identityModel,
    },
    env,
  );

export type IdentitySettings = z.infer<typeof identityModel>;
