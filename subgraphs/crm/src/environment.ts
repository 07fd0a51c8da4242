// The CRM deployable's configuration; docs/configuration.md lists every variable.
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

export const crmModel = z.object({
  /** How often segments whose filters read the clock ("-30 days") are rebuilt. */
  CRM_SEGMENT_REFRESH_SECONDS: z.coerce.number().int().min(1).default(900),
});

export const parseCrmEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    {
      server: serverModel(4002),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
      crm: crmModel,
    },
    env,
  );
