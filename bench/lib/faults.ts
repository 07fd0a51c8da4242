// What the `--faults` runs share (bench/send, bench/journeys, bench/campaign): a worker's real main
// in child processes, the faults injected under them, and the check that each worker recovered.
//
// The services restarted are the ones the environment names (scripts/services.sh, with
// MAUNTIC_SERVICES_DIR, MAUNTIC_PG_PORT, MAUNTIC_REDIS_PORT, MAUNTIC_KAFKA_PORT): point it at
// private instances when anyone else uses the default ones.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type DatabaseHandle, sql } from '@mauntic/platform';
import { TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';

const run = promisify(execFile);
const SERVICES = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));

export interface Fault {
  name: string;
  inject: () => Promise<void>;
}

/**
 * The faults, in the order they are injected: Postgres restarted (fast shutdown, as in a failover),
 * the workers' connections terminated (pg_terminate_backend on their application name), the Kafka
 * broker restarted, Redis restarted.
 */
export function serviceFaults(handle: DatabaseHandle, workers: { application: string; label: string }): Fault[] {
  const services = (action: string, service: string) => run('bash', [SERVICES, action, service]).then(() => {});
  return [
    { name: 'postgres_restarted', inject: () => services('restart', 'postgres') },
    {
      name: `${workers.label}_connections_terminated`,
      inject: async () => {
        await handle.rows(
          sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${workers.application}`,
        );
      },
    },
    { name: 'kafka_restarted', inject: () => services('restart', 'kafka') },
    { name: 'redis_restarted', inject: () => services('restart', 'redis') },
  ];
}

export interface Worker {
  child: ChildProcess;
  port: number;
  exited: boolean;
}

export interface Workers {
  list: Worker[];
  stop(): Promise<void>;
}

export interface WorkerSpec {
  /** The worker's main, relative to this file's folder or absolute. */
  main: string;
  processes: number;
  env: NodeJS.ProcessEnv;
  /** The variable naming each process (EXECUTOR_OWNER...), set to `bench-faults-<label>-<k>`. */
  ownerVariable?: string;
  /** What the worker logs (JSON, with its `port`) once it runs. */
  runningLine: string;
  /** The processes' logs go to `<dir>/<label>-<k>.log`. */
  dir: string;
  label: string;
}

/** The worker processes, each on a free port, answering once they log that they run. */
export async function startWorkers(spec: WorkerSpec): Promise<Workers> {
  const start = (k: number) =>
    new Promise<Worker>((resolve, reject) => {
      const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, spec.main], {
        env: {
          ...spec.env,
          ...(spec.ownerVariable ? { [spec.ownerVariable]: `bench-faults-${spec.label}-${k}` } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const log = createWriteStream(join(spec.dir, `${spec.label}-${k}.log`));
      child.stderr!.pipe(log);
      const worker: Worker = { child, port: 0, exited: false };
      child.once('exit', (code, signal) => {
        worker.exited = true;
        reject(new Error(`${spec.label} ${k} exited (${signal ?? code}) before it ran`));
      });
      child.once('error', reject);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        log.write(`${line}\n`);
        if (worker.port === 0 && line.includes(spec.runningLine)) {
          worker.port = JSON.parse(line).port;
          resolve(worker);
        }
      });
    });
  const list = await Promise.all(Array.from({ length: spec.processes }, (_, k) => start(k)));
  const killAll = () => {
    for (const w of list) if (!w.exited) w.child.kill('SIGKILL');
  };
  process.once('exit', killAll);
  return {
    list,
    async stop() {
      for (const w of list) if (!w.exited) w.child.kill('SIGTERM');
      await Promise.all(list.map((w) => new Promise((r) => (w.exited ? r(null) : w.child.once('exit', r)))));
      process.off('exit', killAll);
    },
  };
}

/** The worker's counter `name` at /metrics, summed over its labels; null if it does not answer. */
export async function metricOf(worker: Worker, name: string): Promise<number | null> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${worker.port}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      .reduce((sum, line) => sum + Number(line.split(' ').pop()), 0);
  } catch {
    return null;
  }
}

/**
 * Recovered: never exited, ready (its /readyz: database, Kafka...) and its counter `metric` moved
 * past `before` (read after the last fault). Reports each worker that did not on stderr.
 */
export async function countRecovered(
  workers: Workers,
  before: (number | null)[],
  metric: string,
  describe: { bench: string; label: string; dir: string },
): Promise<number> {
  let recovered = 0;
  for (const [k, worker] of workers.list.entries()) {
    const ready = await untilTrue(async () => {
      const res = await fetch(`http://127.0.0.1:${worker.port}/readyz`).catch(() => null);
      return res?.status === 200;
    }, 30_000);
    const after = await metricOf(worker, metric);
    const progressed = after !== null && after > (before[k] ?? 0);
    if (!worker.exited && ready && progressed) recovered++;
    else
      process.stderr.write(
        `[bench ${describe.bench} --faults] ${describe.label} ${k}: exited=${worker.exited} ready=${ready} ${metric} ${before[k]} -> ${after}; logs in ${describe.dir}\n`,
      );
  }
  return recovered;
}

export async function untilTrue(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}
