// The two baselines the send benchmark reports beside the engine, both into the same sink:
//  - nodemailerLoop: what a developer would write first: nodemailer's pooled SMTP transport
//    sending the pre-rendered messages (raw MIME, no rendering or tracking in the loop) with
//    bounded concurrency. The engine should at least match it.
//  - smtpSource: Postfix's own C load generator, `smtp-source`: the ceiling of the sink and
//    the machine's loopback, not a target.
import { spawn } from 'node:child_process';
import { nodemailer } from './deps.ts';
import type { BenchMessage } from './message.ts';
import { BENCH_DOMAIN, BENCH_FROM } from './message.ts';

export interface BaselineResult {
  messages: number;
  seconds: number;
  msgsPerSecond: number;
}

export interface NodemailerLoopOptions {
  /**
   * SMTP connections in nodemailer's pool (default 32). Measured here at 10,000 messages into
   * smtp-sink (2 cores, other load): 10 -> 1,300-2,100 msgs/s, 16 -> 1,560-2,280, 32 -> 2,550-2,750,
   * 64 -> 2,560-3,090: the rate levels off from 32, the value that gives the loop a fair chance.
   */
  connections?: number;
  /** sendMail calls in flight (default 2 per connection, so no connection idles between messages). */
  concurrency?: number;
}

/** Sends every message (raw) through one pooled nodemailer transport; resolves with the rate. */
export async function nodemailerLoop(
  messages: readonly BenchMessage[],
  sinkUrl: string,
  options: NodemailerLoopOptions = {},
): Promise<BaselineResult> {
  const connections = options.connections ?? 32;
  const concurrency = options.concurrency ?? connections * 2;
  const url = new URL(sinkUrl);
  const transport = nodemailer().createTransport({
    pool: true,
    maxConnections: connections,
    maxMessages: Number.POSITIVE_INFINITY, // keep connections open for the whole run
    host: url.hostname,
    port: Number(url.port || 25),
    secure: false,
    ignoreTLS: true,
    disableFileAccess: true,
    disableUrlAccess: true,
    logger: false,
  });
  try {
    await transport.verify(); // connect once before the clock starts
    let next = 0;
    let failed = 0;
    let firstError: unknown;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(concurrency, messages.length) }, async () => {
        for (let i = next++; i < messages.length; i = next++) {
          const m = messages[i]!;
          try {
            await transport.sendMail({ envelope: { from: m.from, to: [m.to] }, raw: m.raw });
          } catch (error) {
            failed++;
            firstError ??= error;
          }
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    if (failed > 0) throw new Error(`nodemailer loop: ${failed} of ${messages.length} failed: ${String(firstError)}`);
    return { messages: messages.length, seconds, msgsPerSecond: messages.length / seconds };
  } finally {
    transport.close();
  }
}

export interface SmtpSourceOptions {
  host?: string;
  /** Parallel SMTP sessions (-s; default 20). */
  sessions?: number;
  /** Payload bytes per message, headers excluded (-l; default 10,240). */
  size?: number;
  /**
   * Send the next message on the same connection (-d; default true), as nodemailer's pool and
   * the engine do. False opens one connection per message (smtp-source's default).
   */
  reuseConnections?: boolean;
  binary?: string;
}

/** Runs `smtp-source` for `count` messages into the sink on `sinkPort`; resolves with the rate. */
export async function smtpSource(
  count: number,
  sinkPort: number,
  options: SmtpSourceOptions = {},
): Promise<BaselineResult> {
  const args = [
    '-4', // IPv4: the sink listens on 127.0.0.1 only
    '-s',
    String(options.sessions ?? 20),
    '-m',
    String(count),
    '-l',
    String(options.size ?? 10_240),
    '-M',
    'bench.mauntic.example', // HELO name and default addresses: no lookup of the machine's name
    '-f',
    BENCH_FROM,
    '-t',
    `user@${BENCH_DOMAIN}`,
    '-N', // distinct recipients: a sequence number is prepended to the -t address
    ...(options.reuseConnections === false ? [] : ['-d']),
    `${options.host ?? '127.0.0.1'}:${sinkPort}`,
  ];
  const t0 = performance.now();
  const { code, stderr } = await run(options.binary ?? '/usr/sbin/smtp-source', args);
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`smtp-source exited with ${code}: ${stderr.trim()}`);
  return { messages: count, seconds, msgsPerSecond: count / seconds };
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 10_000) stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr }));
  });
}
