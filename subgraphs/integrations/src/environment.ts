// The integrations deployable's configuration; docs/configuration.md lists every variable.
import {
  busModel,
  ConfigError,
  databaseModel,
  logModel,
  outboundModel,
  parseEncryptionKey,
  parseEnvironment,
  queueModel,
  secret,
  secretsModel,
  serverModel,
} from '@mauntic/platform';
import { z } from 'zod';

export const integrationsModel = z.object({
  /** 32 bytes, base64: seals webhook signing secrets at rest (AES-256-GCM). Shared with the webhook dispatcher. */
  INTEGRATIONS_ENCRYPTION_KEY: secret('INTEGRATIONS_ENCRYPTION_KEY'),
});

export const parseIntegrationsEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    {
      server: serverModel(4005),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
      integrations: integrationsModel,
      outbound: outboundModel(),
    },
    env,
  );

/** The key that seals webhook secrets: required in cluster mode (embedded mode keeps one in its data folder). */
export function clusterEncryptionKey(integrations: z.infer<typeof integrationsModel>) {
  if (!integrations.INTEGRATIONS_ENCRYPTION_KEY)
    throw new ConfigError(['INTEGRATIONS_ENCRYPTION_KEY: required in cluster mode']);
  return parseEncryptionKey(integrations.INTEGRATIONS_ENCRYPTION_KEY);
}
