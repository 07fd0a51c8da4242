// The dispatcher alone in a process, without bus or HTTP server: the crash test starts it, kills
// it and starts it again. Configured like the worker (DATABASE_URL, INTEGRATIONS_ENCRYPTION_KEY,
// OUTBOUND_ALLOWED_HOSTS, LOG_LEVEL, WEBHOOK_*); it prints `ready` once it runs, and stops cleanly
// on SIGTERM.
import { WebhookDispatcher } from '@mauntic/integrations/dispatcher';
import {
  clusterEncryptionKey,
  dispatcherModel,
  dispatcherSettings,
  integrationsModel,
} from '@mauntic/integrations/environment';
import {
  createLogger,
  databaseModel,
  logModel,
  openDatabase,
  outboundGuard,
  outboundModel,
  parseEnvironment,
  requireValue,
} from '@mauntic/platform';

export async function runDispatcherProcess(name: string): Promise<void> {
  const env = parseEnvironment({
    log: logModel,
    db: databaseModel,
    integrations: integrationsModel,
    outbound: outboundModel(),
    dispatcher: dispatcherModel,
  });
  const url = requireValue(env.db.DATABASE_URL, 'DATABASE_URL');
  const handle = await openDatabase({ url, maxConnections: 5, applicationName: name });
  const dispatcher = new WebhookDispatcher({
    handle,
    logger: createLogger(name, env.log.LOG_LEVEL),
    encryptionKey: clusterEncryptionKey(env.integrations),
    outbound: outboundGuard({ allow: env.outbound.OUTBOUND_ALLOWED_HOSTS }),
    ...dispatcherSettings(env.dispatcher),
  });
  await dispatcher.start();
  process.stdout.write('ready\n');
  process.once('SIGTERM', async () => {
    await dispatcher.stop();
    await handle.close();
    process.exit(0);
  });
}
