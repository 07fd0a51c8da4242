// One delivery engine process for the send benchmark (the parent starts, kills and restarts it),
// configured by the environment engine-run.ts gives it (see runEngineProcess).
import { runEngineProcess } from '@mauntic/delivery-engine/engine-process';
import { registry } from '@mauntic/platform';

await runEngineProcess('bench-engine', {
  // BENCH_ENGINE_TIMINGS=1: where each batch's time went (claim, prepare, send, record).
  onStop: async () => {
    if (!process.env.BENCH_ENGINE_TIMINGS) return;
    const phases = (await registry.getSingleMetric('mauntic_delivery_batch_phase_seconds')?.get())?.values ?? [];
    const sums = phases
      .filter((v) => (v as { metricName?: string }).metricName?.endsWith('_sum'))
      .map((v) => `${v.labels.phase}=${v.value.toFixed(2)}s`);
    process.stderr.write(`[engine ${process.env.ENGINE_OWNER}] ${sums.join(' ')}\n`);
  },
});
