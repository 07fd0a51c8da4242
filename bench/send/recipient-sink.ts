// A counting SMTP sink for the `--kill` variant of the send benchmark: it accepts everything,
// throws the content away and counts, per recipient, the messages whose DATA it accepted
// (the 250 after "."), so a run can report sent / unique_recipients / duplicates / lost.
// RCPT TO commands accepted for transactions that never completed (a client killed mid-DATA)
// are counted apart: they were not delivered, and their retry is not a duplicate.
//
// It is slower than Postfix's smtp-sink, so use it for correctness runs, not for throughput.
// forkRecipientSink() runs it in a child process so that it does not share an event loop with
// the sender: measured so, it took about 4,700 msgs/s from smtp-source (20 sessions, 10 KB) and
// kept up with a 16-connection nodemailer pool (about 1,400 msgs/s, the sender being the limit).
//
// Stand-alone: `node --import tsx bench/send/recipient-sink.ts [port]` prints a summary on Ctrl-C.
//
// Counting at Postfix's smtp-sink instead: its `-D dump-file` option appends every completed
// transaction (one "X-Rcpt-Args: <addr>" line per recipient, then the whole message) to a file,
// so `grep -a '^X-Rcpt-Args:' dump | sort | uniq -c` counts recipients. startCountingSmtpSink()
// runs such a second smtp-sink; see the measurements there.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type SmtpServer, smtpServer } from './deps.ts';

export interface SinkSnapshot {
  /** Transactions whose DATA was accepted. */
  messages: number;
  /** RCPT TO commands accepted, completed transactions or not. */
  rcptAccepted: number;
  /** Delivered messages per recipient address (lower-cased). */
  counts: [string, number][];
}

export interface SinkSummary {
  /** Recipient deliveries accepted (a message to 2 recipients counts 2). */
  sent: number;
  unique_recipients: number;
  /** Deliveries beyond the first to the same recipient. */
  duplicates: number;
  /** Expected recipients that received nothing. */
  lost: number;
  /** Recipients that received mail but were not expected. */
  unexpected: number;
  /** A few duplicated recipients, for the report. */
  duplicate_examples: string[];
}

export class RecipientSink {
  private counts = new Map<string, number>();
  private messages = 0;
  private rcptAccepted = 0;

  private constructor(
    private readonly server: SmtpServer,
    readonly host: string,
    readonly port: number,
  ) {}

  get url() {
    return `smtp://${this.host}:${this.port}`;
  }

  static async start(options: { port?: number; host?: string } = {}): Promise<RecipientSink> {
    const host = options.host ?? '127.0.0.1';
    let sink: RecipientSink | undefined;
    const { SMTPServer } = smtpServer();
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      hideSTARTTLS: true,
      disableReverseLookup: true,
      banner: 'mauntic recipient sink',
      size: 50 * 1024 * 1024,
      maxClients: 1000,
      logger: false,
      onRcptTo(_address, _session, callback) {
        sink!.rcptAccepted++;
        callback();
      },
      onData(stream, session, callback) {
        stream.on('end', () => {
          if (stream.sizeExceeded) return callback(new Error('552 message too large'));
          sink!.messages++;
          for (const r of session.envelope.rcptTo) {
            const address = r.address.toLowerCase();
            sink!.counts.set(address, (sink!.counts.get(address) ?? 0) + 1);
          }
          callback();
        });
        stream.resume();
      },
    });
    server.on('error', (error) => console.error('[recipient-sink]', error.message));
    const port = await new Promise<number>((resolve, reject) => {
      const net = server.listen(options.port ?? 0, host, () => resolve((net.address() as AddressInfo).port));
      net.once('error', reject);
    });
    sink = new RecipientSink(server, host, port);
    return sink;
  }

  snapshot(): SinkSnapshot {
    return { messages: this.messages, rcptAccepted: this.rcptAccepted, counts: [...this.counts] };
  }

  reset() {
    this.counts.clear();
    this.messages = 0;
    this.rcptAccepted = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Compares what a sink received with the recipients that should have received one message each. */
export function summarize(counts: Iterable<[string, number]>, expected: Iterable<string>): SinkSummary {
  const got = new Map(counts);
  const want = new Set<string>();
  for (const e of expected) want.add(e.toLowerCase());
  let sent = 0;
  let duplicates = 0;
  let unexpected = 0;
  const duplicate_examples: string[] = [];
  for (const [rcpt, n] of got) {
    sent += n;
    if (n > 1) {
      duplicates += n - 1;
      if (duplicate_examples.length < 10) duplicate_examples.push(`${rcpt} x${n}`);
    }
    if (!want.has(rcpt)) unexpected++;
  }
  let lost = 0;
  for (const w of want) if (!got.has(w)) lost++;
  return { sent, unique_recipients: got.size, duplicates, lost, unexpected, duplicate_examples };
}

// ------------------------------------------------------------ in a child process
export interface ForkedSink {
  url: string;
  port: number;
  snapshot(): Promise<SinkSnapshot>;
  reset(): Promise<void>;
  close(): Promise<void>;
}

type Request = { id: number; cmd: 'snapshot' | 'reset' | 'close' };
type Reply = { id: number; result?: unknown; error?: string } | { ready: true; port: number };

/** Starts a RecipientSink in a child Node process (same loader flags as this one). */
export async function forkRecipientSink(options: { port?: number; host?: string } = {}): Promise<ForkedSink> {
  const host = options.host ?? '127.0.0.1';
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--child', String(options.port ?? 0), host], {
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let nextId = 1;
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`recipient sink exited with ${code}`)));
    child.on('message', (m: Reply) => {
      if ('ready' in m) return resolve(m.port);
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.error) p.reject(new Error(m.error));
      else p.resolve(m.result);
    });
  });
  const call = <T>(cmd: Request['cmd']) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      child.send({ id, cmd } satisfies Request);
    });
  return {
    url: `smtp://${host}:${port}`,
    port,
    snapshot: () => call<SinkSnapshot>('snapshot'),
    reset: () => call<void>('reset'),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      await call<void>('close').catch(() => undefined);
      await exited;
    },
  };
}

async function childMain(port: number, host: string) {
  const sink = await RecipientSink.start({ port, host });
  process.on('message', async (m: Request) => {
    try {
      let result: unknown;
      if (m.cmd === 'snapshot') result = sink.snapshot();
      else if (m.cmd === 'reset') sink.reset();
      else if (m.cmd === 'close') await sink.close();
      process.send!({ id: m.id, result } satisfies Reply);
      if (m.cmd === 'close') process.disconnect();
    } catch (error) {
      process.send!({ id: m.id, error: String(error) } satisfies Reply);
    }
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true, port: sink.port } satisfies Reply);
}

async function standaloneMain(port: number) {
  const sink = await RecipientSink.start({ port });
  console.error(`[recipient-sink] listening on ${sink.url}; Ctrl-C prints the counts`);
  process.once('SIGINT', async () => {
    const s = sink.snapshot();
    const duplicates = s.counts.reduce((d, [, n]) => d + Math.max(0, n - 1), 0);
    console.log(
      JSON.stringify({ messages: s.messages, rcpt_accepted: s.rcptAccepted, unique: s.counts.length, duplicates }),
    );
    await sink.close();
    process.exit(0);
  });
}

// ------------------------------------------------------- counting at smtp-sink
/**
 * Counts recipients in a dump written by `smtp-sink -D <file>` (or in files from `-d`):
 * one "X-Rcpt-Args: <addr>" line per recipient of each completed transaction.
 */
export async function countSmtpSinkDump(file: string): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const lines = createInterface({ input: createReadStream(file, { encoding: 'latin1' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.startsWith('X-Rcpt-Args:')) continue;
    const m = /<([^>]*)>/.exec(line);
    const address = (m ? m[1]! : line.slice(12).trim()).toLowerCase();
    counts.set(address, (counts.get(address) ?? 0) + 1);
  }
  return counts;
}

export interface CountingSmtpSink {
  url: string;
  port: number;
  dumpFile: string;
  /** Stops the sink, reads the dump, deletes it; resolves with the deliveries per recipient. */
  stop(): Promise<Map<string, number>>;
}

/**
 * A second Postfix smtp-sink that dumps every transaction to a file, for counting recipients at
 * C speed. Checked with smtp-sink 3.7 here: a transaction cut off in the middle of DATA (client
 * killed) leaves nothing in the dump, only ones answered after "." do; 20 parallel sessions did
 * not interleave the header lines (10,000 sent, 10,000 unique counted). Cost: smtp-source -> sink
 * fell from about 11,000 to about 6,800 msgs/s with the dump on tmpfs, and the dump holds every
 * message in full (about 1 GB for 100,000 messages of 10 KB), so give `dir` the room.
 */
export async function startCountingSmtpSink(options: { port: number; dir?: string }): Promise<CountingSmtpSink> {
  const dir = await mkdtemp(join(options.dir ?? tmpdir(), 'mauntic-sink-'));
  await chmod(dir, 0o777); // smtp-sink writes as nobody when started as root
  const dumpFile = join(dir, 'dump');
  const user = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const child = spawn(
    '/usr/sbin/smtp-sink',
    [...user, '-4', '-m', '1000', '-D', dumpFile, `127.0.0.1:${options.port}`, '1000'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`smtp-sink exited: ${stderr.trim()}`);
    if (await canConnect(options.port)) break;
    if (i > 100) throw new Error(`smtp-sink did not listen on ${options.port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `smtp://127.0.0.1:${options.port}`,
    port: options.port,
    dumpFile,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      try {
        return await countSmtpSinkDump(dumpFile);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
        throw error;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
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

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  if (process.argv[2] === '--child') await childMain(Number(process.argv[3] ?? 0), process.argv[4] ?? '127.0.0.1');
  else await standaloneMain(Number(process.argv[2] ?? 2527));
}
