// The campaign deployable's configuration; docs/configuration.md lists every variable.
import {
  busModel,
  databaseModel,
  logModel,
  parseEnvironment,
  queueModel,
  secretsModel,
  serverModel,
} from '@mauntic/platform';

export const parseCampaignEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    {
      server: serverModel(4006),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
    },
    env,
  );
