// `pnpm bench send [--count N] [--kill | --faults]`: personalised, tracked ~10 KB emails into
// Postfix's smtp-sink on loopback (scripts/services.sh starts it on 127.0.0.1:2525).
//
// It prints the engine's rate beside two baselines measured in this run on the same sink:
//   msgs_per_s                  the delivery engine (engine-run.ts): from the send requests to every
//                               message recorded as accepted by the sink (baseline: the nodemailer loop)
//   smtp_source_msgs_per_s      Postfix's smtp-source (C, 20 sessions, connections reused): the ceiling
//   nodemailer_loop_msgs_per_s  a naive pooled nodemailer loop (32 connections; BENCH_SEND_CONNECTIONS)
//                               sending the same pre-rendered messages
// `--kill` kills engine processes twice during the run and reports sent, unique_recipients,
// duplicates and lost, counted by a sink that records every accepted recipient.
// `--faults` runs the engine's worker processes while Postgres is restarted, their connections are
// terminated, and the Kafka broker and Redis are restarted (faults.ts: it restarts the services
// the environment names, so run it on private instances when others use the default ones). It
// reports duplicates and lost as --kill does, engines and engines_recovered (running, ready and
// sending after the last fault, never restarted), msgs_per_s, and for delivery's events through
// the outbox relay to an idempotent consumer: events_lost and events_applied_twice. It exits
// with an error when any of duplicates, lost, events_lost, events_applied_twice is not 0 or an
// engine did not recover.
//
// `--dkim` runs the engine twice, the same audience without and with DKIM (every message signed
// with RSA-2048 and Ed25519 and VERP-addressed): msgs_per_s_dkim with the unsigned rate as baseline.
// `--via-postfix --dkim` sends the signed messages through the real Postfix (SMTP_POSTFIX_URL, which
// relays to the sink) and compares with Postfix alone in the same run: smtp-source -> the same Postfix
// -> sink (msgs_per_s_via_postfix). Both are timed until Postfix's queue is empty again, so what
// Postfix accepted but had not yet relayed counts.
// Both also report the engine processes' CPU per message (engine_cpu_ms_per_msg*), which other
// load on a shared machine moves far less than the wall-clock rates.
// Size: BENCH_SIZE=small sends 1,000 messages, the default 100,000; --count N (or
// BENCH_SEND_COUNT) overrides both.
import { spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { fileURLToPath } from 'node:url';
import { report, small } from '../lib/report.ts';
import { nodemailerLoop, smtpSource } from './baselines.ts';
import { runEngine } from './engine-run.ts';
import { runWithFaults } from './faults.ts';
import { type BenchMessage, generateMessages, recipientAt } from './message.ts';
import { forkRecipientSink, summarize } from './recipient-sink.ts';

const BENCH = 'send';
const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const count = Number(flag('--count') ?? process.env.BENCH_SEND_COUNT ?? (small ? 1_000 : 100_000));
const kill = args.includes('--kill');
const faults = args.includes('--faults');
const dkim = args.includes('--dkim');
const viaPostfix = args.includes('--via-postfix');
const postfixUrl = process.env.SMTP_POSTFIX_URL ?? 'smtp://127.0.0.1:2526';
const sinkUrl = process.env.SMTP_SINK_URL ?? 'smtp://127.0.0.1:2525';
const sinkPort = Number(new URL(sinkUrl).port || 25);
const connections = Number(process.env.BENCH_SEND_CONNECTIONS ?? 32);
if (!Number.isInteger(count) || count <= 0) throw new Error(`bad message count: ${count}`);

if (faults) {
  await faultRun();
  // The figures are out: a Kafka client still reconnecting after the broker restart must not hold
  // the process (and the test command) open; the exit code is the run's.
  process.exit();
} else if (kill) await killRun();
else if (viaPostfix) await postfixRun();
else if (dkim) await dkimRun();
else await throughputRun();

async function throughputRun() {
  await ensureSink(sinkPort);

  const t0 = performance.now();
  const messages: BenchMessage[] = generateMessages(count);
  const bytes = messages.reduce((sum, m) => sum + m.raw.length, 0);
  report(BENCH, 'messages', count, 'msgs');
  report(BENCH, 'message_kb', bytes / count / 1024, 'KB');
  report(BENCH, 'render_baseline_messages_seconds', (performance.now() - t0) / 1000, 's');

  const source = await smtpSource(count, sinkPort, { sessions: 20, size: 10_240 });
  report(BENCH, 'smtp_source_msgs_per_s', source.msgsPerSecond, 'msgs/s');

  // Untimed warm-up (JIT, pool): a cold loop measured 30-40% slower on its first 10,000.
  await nodemailerLoop(messages.slice(0, Math.min(2_000, count)), sinkUrl, { connections });
  const loop = await nodemailerLoop(messages, sinkUrl, { connections });
  report(BENCH, 'nodemailer_loop_msgs_per_s', loop.msgsPerSecond, 'msgs/s');
  messages.length = 0; // let the ~1 GB of buffers go before the engine runs

  const engine = await runEngine({ count, sinkUrl, kills: 0 });
  report(BENCH, 'engine_processes', engine.processes, 'processes');
  report(BENCH, 'engine_seconds', engine.seconds, 's');
  report(BENCH, 'msgs_per_s', count / engine.seconds, 'msgs/s', loop.msgsPerSecond);
  report(BENCH, 'msgs_per_s_vs_smtp_source', count / engine.seconds, 'msgs/s', source.msgsPerSecond);
}

// `--kill`: the engine killed twice during the run, into a sink that counts deliveries per
// recipient (a RecipientSink in a child process; see recipient-sink.ts for the faster
// smtp-sink -D alternative, startCountingSmtpSink).
async function killRun() {
  const sink = await forkRecipientSink({ port: Number(process.env.BENCH_SEND_KILL_SINK_PORT ?? 0) });
  try {
    const engine = await runEngine({ count, sinkUrl: sink.url, kills: 2 });
    const snapshot = await sink.snapshot();
    const summary = summarize(
      snapshot.counts,
      Array.from({ length: count }, (_, i) => recipientAt(i)),
    );
    report(BENCH, 'kill_requests', engine.requests, 'requests');
    report(BENCH, 'sent', summary.sent, 'msgs');
    report(BENCH, 'unique_recipients', summary.unique_recipients, 'recipients');
    report(BENCH, 'duplicates', summary.duplicates, 'msgs');
    report(BENCH, 'lost', summary.lost, 'msgs');
    if (summary.unexpected > 0) report(BENCH, 'unexpected_recipients', summary.unexpected, 'recipients');
    if (summary.duplicate_examples.length > 0)
      console.error('[bench send --kill] duplicates:', summary.duplicate_examples.join(', '));
  } finally {
    await sink.close();
  }
}

// `--dkim`: the same engine run without and with signing.
async function dkimRun() {
  await ensureSink(sinkPort);
  const plain = await runEngine({ count, sinkUrl, kills: 0 });
  const signed = await runEngine({ count, sinkUrl, kills: 0, dkim: true });
  report(BENCH, 'messages', count, 'msgs');
  report(BENCH, 'msgs_per_s_without_dkim', count / plain.seconds, 'msgs/s');
  report(BENCH, 'msgs_per_s_dkim', count / signed.seconds, 'msgs/s', count / plain.seconds);
  // Engine CPU per message (all threads of the engine processes): what signing adds, whatever the
  // other load on the machine did to the wall-clock rates.
  report(BENCH, 'engine_cpu_ms_per_msg_without_dkim', (plain.cpuSeconds * 1000) / count, 'ms');
  report(
    BENCH,
    'engine_cpu_ms_per_msg_dkim',
    (signed.cpuSeconds * 1000) / count,
    'ms',
    (plain.cpuSeconds * 1000) / count,
  );
}

// `--via-postfix [--dkim]`: Postfix alone beside the engine through that Postfix.
async function postfixRun() {
  const postfixPort = Number(new URL(postfixUrl).port || 25);
  await ensureSink(postfixPort);
  await postfixQueueEmpty();
  const t0 = performance.now();
  await smtpSource(count, postfixPort, { sessions: 20, size: 10_240 });
  await postfixQueueEmpty();
  const alone = count / ((performance.now() - t0) / 1000);
  const engine = await runEngine({ count, sinkUrl: postfixUrl, kills: 0, dkim });
  const t1 = performance.now();
  await postfixQueueEmpty();
  const seconds = engine.seconds + (performance.now() - t1) / 1000;
  report(BENCH, 'messages', count, 'msgs');
  report(BENCH, 'dkim', dkim ? 1 : 0, 'bool');
  report(BENCH, 'postfix_alone_msgs_per_s', alone, 'msgs/s');
  report(BENCH, 'msgs_per_s_via_postfix', count / seconds, 'msgs/s', alone);
  report(BENCH, 'engine_cpu_ms_per_msg', (engine.cpuSeconds * 1000) / count, 'ms');
}

/** Waits until Postfix has relayed everything it accepted (`postqueue -p` finds nothing). */
async function postfixQueueEmpty() {
  for (;;) {
    const out = spawnSync('postqueue', ['-p'], { encoding: 'utf8' });
    if (out.status !== 0) throw new Error(`postqueue -p failed: ${out.stderr}`);
    if (/Mail queue is empty/.test(out.stdout)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// `--faults`: see faults.ts.
async function faultRun() {
  const sink = await forkRecipientSink({ port: Number(process.env.BENCH_SEND_KILL_SINK_PORT ?? 0) });
  try {
    const run = await runWithFaults(count, sink.url);
    const summary = summarize(
      (await sink.snapshot()).counts,
      Array.from({ length: count }, (_, i) => recipientAt(i)),
    );
    report(BENCH, 'messages', count, 'msgs');
    report(BENCH, 'faults', run.faults.length, 'faults');
    report(BENCH, 'sent', summary.sent, 'msgs');
    report(BENCH, 'duplicates', summary.duplicates, 'msgs');
    report(BENCH, 'lost', summary.lost, 'msgs');
    report(BENCH, 'engines', run.engines, 'processes');
    report(BENCH, 'engines_recovered', run.enginesRecovered, 'processes');
    report(BENCH, 'msgs_per_s', count / run.seconds, 'msgs/s');
    report(BENCH, 'events_lost', run.eventsLost, 'events');
    report(BENCH, 'events_applied_twice', run.eventsAppliedTwice, 'events');
    report(BENCH, 'event_redeliveries', run.eventRedeliveries, 'events');
    if (summary.unexpected > 0) report(BENCH, 'unexpected_recipients', summary.unexpected, 'recipients');
    if (summary.duplicate_examples.length > 0)
      console.error('[bench send --faults] duplicates:', summary.duplicate_examples.join(', '));
    const failed =
      summary.duplicates + summary.lost + run.eventsLost + run.eventsAppliedTwice > 0 ||
      run.enginesRecovered < run.engines ||
      run.faults.length < run.planned;
    if (failed) {
      console.error(
        `[bench send --faults] not exactly once, or not every fault injected and survived: ${run.faults.join(', ')}`,
      );
      process.exitCode = 1;
    }
  } finally {
    await sink.close();
  }
}

/** Starts the services (scripts/services.sh up) when nothing answers on the sink's port. */
async function ensureSink(port: number) {
  if (await canConnect(port)) return;
  const script = fileURLToPath(new URL('../../scripts/services.sh', import.meta.url));
  const r = spawnSync('bash', [script, 'up'], { stdio: ['ignore', 2, 2] });
  if (r.status !== 0 || !(await canConnect(port))) throw new Error(`no SMTP sink on 127.0.0.1:${port}`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
