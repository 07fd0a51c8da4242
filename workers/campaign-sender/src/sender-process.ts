// The sender alone in a process, without bus or HTTP server: the campaign benchmark and the
// crash test start it, kill it and start it again. Configured like the worker (DATABASE_URL,
// LOG_LEVEL, SENDER_*); it prints `ready` once it runs, and stops cleanly on SIGTERM.
import { CampaignSender } from '@mauntic/campaign/sender';
import { createLogger, databaseModel, logModel, openDatabase, parseEnvironment, requireValue } from '@mauntic/platform';
import { senderModel, senderSettings } from './environment.ts';

export async function runSenderProcess(name: string): Promise<void> {
  const env = parseEnvironment({ log: logModel, db: databaseModel, sender: senderModel });
  const url = requireValue(env.db.DATABASE_URL, 'DATABASE_URL');
  const handle = await openDatabase({ url, maxConnections: 3, applicationName: name });
  const sender = new CampaignSender({
    handle,
    logger: createLogger(name, env.log.LOG_LEVEL),
    ...senderSettings(env.sender),
  });
  await sender.start();
  process.stdout.write('ready\n');
  process.once('SIGTERM', async () => {
    await sender.stop();
    await handle.close();
    process.exit(0);
  });
}
