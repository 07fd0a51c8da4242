// A closed-loop HTTP load generator in a child process, so it runs on the other core from the
// server under test and the server's CPU time can be told apart from the generator's.
import { execFile } from 'node:child_process';

export interface LoadSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  durationMs: number;
  /** Open load at this rate (all connections together) instead of each sending when answered. */
  requestsPerSecond?: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  seconds: number;
  /** Unsorted. */
  latenciesMs: number[];
  /** CPU time this process spent while the load ran: the server's, when it runs in this process. */
  cpuMs: number;
}

export function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const client = new URL('./load-client.mjs', import.meta.url).pathname;
  const cpu = process.cpuUsage();
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [client, JSON.stringify(spec)], { maxBuffer: 256 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      const used = process.cpuUsage(cpu);
      resolve({ ...JSON.parse(stdout), cpuMs: (used.user + used.system) / 1000 });
    }),
  );
}
