// The load generator's thread (plain JS: worker threads do not load tsx on Node 20).
import { parentPort, workerData } from 'node:worker_threads';

const spec = workerData;
const latenciesMs = [];
let requests = 0;
let errors = 0;
const started = performance.now();
const deadline = started + spec.durationMs;
await Promise.all(
  Array.from({ length: spec.connections }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      try {
        const response = await fetch(spec.url, { method: 'POST', headers: spec.headers, body: spec.body });
        const text = await response.text();
        if (!response.ok || text.includes('"errors"')) errors++;
      } catch {
        errors++;
      }
      latenciesMs.push(performance.now() - t0);
      requests++;
    }
  }),
);
latenciesMs.sort((a, b) => a - b);
parentPort.postMessage({ requests, errors, seconds: (performance.now() - started) / 1000, latenciesMs });
