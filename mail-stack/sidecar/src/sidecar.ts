// The HTTP API beside one Postfix instance (one sending IP): its health, its queues, its delivery
// counters in Prometheus' format, and a configuration reload. It reads the instance's queue
// folder and mail log and signals its master process, so it needs none of Postfix's tools (in the
// chart it is a second container of the Postfix pod, sharing its volumes and process namespace).
//   GET  /healthz   200 while the master process runs, else 503
//   GET  /queue     {"maildrop":0,"incoming":0,"active":1,"deferred":4,"hold":0,"corrupt":0}
//   GET  /metrics   mauntic_postfix_up, _queue_messages{queue}, _deliveries_total{outcome,group},
//                   _feedback_handed_total{outcome} (bounces and complaints passed on by LMTP)
//   POST /reload    SIGHUP to the master (as `postfix reload`), with `Authorization: Bearer <token>`
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Counter, Gauge, Registry } from 'prom-client';
import { followLog, parseLogLine } from './deliveries.ts';
import { QUEUES, queueSizes } from './queue.ts';

export interface SidecarOptions {
  /** The instance's queue_directory. */
  queueDir: string;
  /** The instance's maillog_file; no delivery counters without it. */
  logFile?: string;
  /** The instance's sending address, a label on every metric. */
  sendingIp?: string;
  /** Allows POST /reload with this bearer token; without one, reloads are refused. */
  reloadToken?: string;
  port: number;
  host: string;
  /** How often the log is read. */
  pollMs?: number;
  /** Writes every log line to stdout as it is read (in a pod, where the log file is not Postfix's stdout). */
  echoLog?: boolean;
  /** Empties the log file once read past this many bytes (a pod's shared volume; see followLog). */
  truncateLogAbove?: number;
}

export interface Sidecar {
  port: number;
  /** Reads the log now (tests; the sidecar also does it every pollMs). */
  readLog(): Promise<void>;
  close(): Promise<void>;
}

/** The master's pid when it runs, from the pid file it keeps in the queue folder. */
async function masterPid(queueDir: string): Promise<number | null> {
  try {
    const pid = Number((await readFile(join(queueDir, 'pid/master.pid'), 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

const sameToken = (given: string, expected: string) => {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
};

export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const registry = new Registry();
  if (options.sendingIp) registry.setDefaultLabels({ sending_ip: options.sendingIp });
  const up = new Gauge({ name: 'mauntic_postfix_up', help: '1 while the master process runs', registers: [registry] });
  const queued = new Gauge({
    name: 'mauntic_postfix_queue_messages',
    help: 'Messages in each Postfix queue',
    labelNames: ['queue'],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'mauntic_postfix_deliveries_total',
    help: 'Delivery attempts of outgoing mail by outcome and mailbox-provider group',
    labelNames: ['outcome', 'group'],
    registers: [registry],
  });
  const handed = new Counter({
    name: 'mauntic_postfix_feedback_handed_total',
    help: 'Bounces and complaints passed on to the delivery service by LMTP, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });

  const log = options.logFile
    ? followLog(
        options.logFile,
        (line) => {
          if (options.echoLog) process.stdout.write(`${line}\n`);
          const parsed = parseLogLine(line);
          if (!parsed) return;
          if (parsed.transport === 'lmtp') handed.inc({ outcome: parsed.outcome });
          else deliveries.inc({ outcome: parsed.outcome, group: parsed.group });
        },
        options.truncateLogAbove,
      )
    : undefined;
  await log?.poll(); // from the end of what is there now
  let reading = Promise.resolve();
  const readLog = () => {
    reading = reading.then(() => log?.poll()).catch(() => {});
    return reading;
  };
  const timer = setInterval(readLog, options.pollMs ?? 1000);
  timer.unref();

  const send = (res: ServerResponse, status: number, body: string, type = 'application/json') => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://sidecar').pathname;
    if (req.method === 'GET' && path === '/healthz') {
      const pid = await masterPid(options.queueDir);
      return send(res, pid ? 200 : 503, JSON.stringify({ master: pid ? 'running' : 'down' }));
    }
    if (req.method === 'GET' && path === '/queue')
      return send(res, 200, JSON.stringify(await queueSizes(options.queueDir)));
    if (req.method === 'GET' && path === '/metrics') {
      await readLog();
      up.set((await masterPid(options.queueDir)) ? 1 : 0);
      const sizes = await queueSizes(options.queueDir);
      for (const q of QUEUES) queued.set({ queue: q }, sizes[q]);
      return send(res, 200, await registry.metrics(), registry.contentType);
    }
    if (req.method === 'POST' && path === '/reload') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!options.reloadToken || !token || !sameToken(token, options.reloadToken)) {
        return send(res, 403, JSON.stringify({ error: 'reload needs the sidecar token' }));
      }
      const pid = await masterPid(options.queueDir);
      if (!pid) return send(res, 503, JSON.stringify({ error: 'postfix is not running' }));
      process.kill(pid, 'SIGHUP');
      return send(res, 202, JSON.stringify({ reloaded: pid }));
    }
    return send(res, 404, JSON.stringify({ error: 'not found' }));
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => send(res, 500, JSON.stringify({ error: error.message })));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    readLog,
    close: async () => {
      clearInterval(timer);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
