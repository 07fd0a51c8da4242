// The executor alone in a process, without bus or HTTP server: the journeys benchmark and the
// crash test start it, kill it and start it again under the same EXECUTOR_OWNER. Configured like
// the worker (DATABASE_URL, LOG_LEVEL, EXECUTOR_*); it prints `ready` once it runs, reports each
// batch's figures as a JSON line on stdout when EXECUTOR_REPORT=1, and stops cleanly on SIGTERM.
import { JourneyExecutor } from '@mauntic/journey/executor';
import { createLogger, databaseModel, logModel, openDatabase, parseEnvironment, requireValue } from '@mauntic/platform';
import { executorModel, executorSettings } from './environment.ts';

export async function runExecutorProcess(name: string): Promise<void> {
  const env = parseEnvironment({ log: logModel, db: databaseModel, executor: executorModel });
  const url = requireValue(env.db.DATABASE_URL, 'DATABASE_URL');
  const settings = executorSettings(env.executor);
  const handle = await openDatabase({ url, maxConnections: settings.lanes + 3, applicationName: name });
  const report = process.env.EXECUTOR_REPORT === '1';
  const executor = new JourneyExecutor({
    handle,
    logger: createLogger(name, env.log.LOG_LEVEL),
    ...settings,
    ...(report ? { onBatch: (stats) => process.stdout.write(`${JSON.stringify(stats)}\n`) } : {}),
  });
  await executor.start();
  process.stdout.write('ready\n');
  process.once('SIGTERM', async () => {
    await executor.stop();
    await handle.close();
    process.exit(0);
  });
}
