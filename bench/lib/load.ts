// A closed-loop HTTP load generator in a worker thread, so it runs on the other core from the
// server under test: `connections` clients each send the next request when the last returns.
import { Worker } from 'node:worker_threads';

export interface LoadSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  durationMs: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  /** Sorted ascending. */
  latenciesMs: number[];
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./load-worker.mjs', import.meta.url), { workerData: spec });
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}
