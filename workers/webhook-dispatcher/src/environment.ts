// The webhook dispatcher's configuration; docs/configuration.md lists every variable.
import { clusterEncryptionKey, dispatcherModel, integrationsModel } from '@mauntic/integrations/environment';
import {
  busModel,
  ConfigError,
  databaseModel,
  logModel,
  outboundModel,
  parseEnvironment,
  serverModel,
} from '@mauntic/platform';

/**
 * The worker's variables. It runs in cluster mode only (embedded mode runs the dispatcher
 * in-process), so the database, Kafka and the key of the webhook secrets are required; all that is
 * missing is reported at once.
 */
export function parseDispatcherEnvironment(env: NodeJS.ProcessEnv = process.env) {
  const config = parseEnvironment(
    {
      server: serverModel(4106),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      integrations: integrationsModel,
      outbound: outboundModel(),
      dispatcher: dispatcherModel,
    },
    env,
  );
  const missing = [
    !config.db.DATABASE_URL && 'DATABASE_URL: required in cluster mode',
    !config.bus.KAFKA_BROKERS?.length && 'KAFKA_BROKERS: required in cluster mode',
    !config.integrations.INTEGRATIONS_ENCRYPTION_KEY && 'INTEGRATIONS_ENCRYPTION_KEY: required in cluster mode',
  ].filter((x): x is string => Boolean(x));
  if (missing.length) throw new ConfigError(missing);
  return { ...config, encryptionKey: clusterEncryptionKey(config.integrations) };
}
