// The engine alone in a process, without bus, Redis or HTTP server: the send benchmark and the
// crash test start it, kill it and start it again under the same ENGINE_OWNER. Configured like the
// worker (DATABASE_URL, DELIVERY_ENCRYPTION_KEY, TRACKING_SECRET, PUBLIC_BASE_URL, LOG_LEVEL,
// ENGINE_*, OUTBOUND_ALLOWED_HOSTS); it prints `ready` once it runs and stops cleanly on SIGTERM.
import { clusterKeys, createMemoryRateLimiter, deliveryModel } from '@mauntic/delivery/engine';
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
import { createEngine } from './create-engine.ts';
import { engineModel, engineSettings } from './environment.ts';

export interface EngineProcessOptions {
  /** Runs once the engine has stopped on SIGTERM, before the database closes. */
  onStop?: () => Promise<void>;
}

/** `name` labels the process's logs and database connections. */
export async function runEngineProcess(name: string, options: EngineProcessOptions = {}): Promise<void> {
  const env = parseEnvironment({
    log: logModel,
    db: databaseModel,
    delivery: deliveryModel,
    engine: engineModel,
    outbound: outboundModel(),
  });
  const url = requireValue(env.db.DATABASE_URL, 'DATABASE_URL');
  const handle = await openDatabase({ url, maxConnections: 4, applicationName: name });
  const engine = createEngine({
    handle,
    logger: createLogger(name, env.log.LOG_LEVEL),
    limiter: createMemoryRateLimiter(),
    outbound: outboundGuard({ allow: env.outbound.OUTBOUND_ALLOWED_HOSTS }),
    ...clusterKeys(env.delivery),
    ...engineSettings(env.engine),
    // No bus wakes it: it looks for work this often.
    pollMs: 20,
  });
  await engine.start();
  process.stdout.write('ready\n');
  process.once('SIGTERM', async () => {
    await engine.stop();
    await options.onStop?.();
    await handle.close();
    process.exit(0);
  });
}
