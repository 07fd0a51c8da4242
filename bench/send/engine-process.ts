// One delivery engine process for the send benchmark (the parent starts, kills and restarts it).
// Configured by environment: DATABASE_URL, ENGINE_OWNER, ENGINE_JOURNAL_DIR, DELIVERY_ENCRYPTION_KEY,
// TRACKING_SECRET, ENGINE_LANES, ENGINE_BATCH_SIZE, ENGINE_SEND_CONCURRENCY.
import { createMemoryRateLimiter, parseEncryptionKey } from '@mauntic/delivery/engine';
import { createEngine } from '@mauntic/delivery-engine';
import { createLogger, openDatabase, registry } from '@mauntic/platform';

const env = process.env;
const handle = await openDatabase({ url: env.DATABASE_URL!, maxConnections: 4, applicationName: 'bench-engine' });
const engine = createEngine({
  handle,
  logger: createLogger('bench-engine', env.LOG_LEVEL ?? 'warn'),
  limiter: createMemoryRateLimiter(),
  encryptionKey: parseEncryptionKey(env.DELIVERY_ENCRYPTION_KEY),
  trackingKey: Buffer.from(env.TRACKING_SECRET!, 'utf8'),
  publicBaseUrl: 'https://t.mauntic.example',
  owner: env.ENGINE_OWNER!,
  journalDir: env.ENGINE_JOURNAL_DIR!,
  lanes: Number(env.ENGINE_LANES ?? 2),
  batchSize: Number(env.ENGINE_BATCH_SIZE ?? 500),
  sendConcurrency: Number(env.ENGINE_SEND_CONCURRENCY ?? 16),
  pollMs: 20,
});
await engine.start();
process.stdout.write('ready\n');
process.once('SIGTERM', async () => {
  await engine.stop();
  // BENCH_ENGINE_TIMINGS=1: where each batch's time went (claim, prepare, send, record).
  if (env.BENCH_ENGINE_TIMINGS) {
    const phases = (await registry.getSingleMetric('mauntic_delivery_batch_phase_seconds')?.get())?.values ?? [];
    const sums = phases
      .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'))
      .map((v) => `${v.labels.phase}=${v.value.toFixed(2)}s`);
    process.stderr.write(`[engine ${env.ENGINE_OWNER}] ${sums.join(' ')}\n`);
  }
  await handle.close();
  process.exit(0);
});
