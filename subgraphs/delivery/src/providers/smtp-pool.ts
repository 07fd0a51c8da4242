// A pool of SMTP connections (nodemailer's SMTPConnection speaks the protocol) that sends
// ready-made MIME messages. Two reasons not to use nodemailer's own pooled transport:
// - the hand-over hook: when the server's 354 arrives, `onHandedOver` runs and, in the same
//   synchronous step, the body and its final dot are written to the socket (nodemailer's
//   transport pipes the message through several streams, and the dot left a few ticks after
//   anything we could observe);
// - speed: it skips the per-message message-object and stream pipeline (~30% of the CPU a send
//   took through the transport).
import { createRequire } from 'node:module';
import type SMTPConnectionType from 'nodemailer/lib/smtp-connection';
import { CANONICAL } from './mime';

const require = createRequire(import.meta.url);
const SMTPConnection: typeof SMTPConnectionType = require('nodemailer/lib/smtp-connection');

/** nodemailer's DataStream: escapes dots and line ends byte by byte, then ends with the dot. */
interface DataStream extends NodeJS.WritableStream {
  push(chunk: Buffer): boolean;
  _flush(done: () => void): void;
  lastByte: number | false;
  inByteCount: number;
  outByteCount: number;
}

const CRLF_DOT = Buffer.from('\r\n.');

/**
 * Writes the message for SMTPConnection. A canonical message (CRLF line ends only, see
 * mime.ts) with no line starting with a dot needs no escaping: it skips the byte-by-byte
 * escaper (~15% of an engine's CPU) and goes, with its final dot, straight to the socket in one
 * synchronous write, so nothing runs between the journal's hand-over line and the dot. (Through
 * the data stream it would leave a tick later, since a new stream emits its first chunk on the
 * next tick, and a process killed in between would lose a journaled message.) The data stream
 * then ends empty; SMTPConnection only counts its bytes.
 */
const END_OF_DATA = Buffer.from('.\r\n');

/** The connection's socket (after STARTTLS, the TLS one): SMTPConnection keeps it as `_socket`. */
const socketOf = (connection: SMTPConnectionType) =>
  (connection as unknown as { _socket: NodeJS.WritableStream })._socket;

function writeData(dataStream: DataStream, socket: NodeJS.WritableStream, raw: Buffer): void {
  const passThrough =
    CANONICAL.has(raw) &&
    raw.length >= 2 &&
    raw[0] !== 0x2e &&
    raw[raw.length - 2] === 0x0d &&
    raw[raw.length - 1] === 0x0a &&
    raw.indexOf(CRLF_DOT) < 0 &&
    typeof dataStream.push === 'function' &&
    'lastByte' in dataStream;
  if (!passThrough) {
    dataStream.write(raw);
    return;
  }
  dataStream.inByteCount += raw.length;
  dataStream.outByteCount += raw.length + END_OF_DATA.length;
  dataStream.lastByte = 0x0a;
  dataStream._flush = (done) => done();
  socket.write(Buffer.concat([raw, END_OF_DATA]));
}

export interface SmtpPoolOptions {
  host: string;
  port: number;
  secure: boolean;
  requireTls: boolean;
  auth?: { user: string; pass: string };
  maxConnections: number;
  /** Messages a connection carries before it is replaced. */
  maxMessages: number;
  timeoutMs: number;
  allowSelfSigned: boolean;
}

export interface SmtpEnvelope {
  from: string;
  to: string[];
}

interface PooledConnection {
  connection: SMTPConnectionType;
  messages: number;
  broken: boolean;
}

type Waiter = (connection: PooledConnection | Error) => void;

export class SmtpPool {
  private readonly idle: PooledConnection[] = [];
  private readonly waiters: Waiter[] = [];
  private open = 0;
  private closed = false;

  constructor(private readonly options: SmtpPoolOptions) {}

  /**
   * Sends one message and resolves with the server's reply. `onHandedOver` runs just before the
   * body and its final dot are written (after the server accepted the envelope and said 354).
   */
  async send(envelope: SmtpEnvelope, raw: Buffer, onHandedOver?: () => void): Promise<{ response: string }> {
    for (let attempt = 1; ; attempt++) {
      const pooled = await this.acquire();
      let handedOver = false;
      try {
        const info = await new Promise<{ response?: string }>((resolve, reject) => {
          const message = {
            // SMTPConnection pipes a message that has pipe() into its data stream once the
            // server said 354; writing the Buffer there sends body and dot at once.
            pipe(dataStream: DataStream) {
              handedOver = true;
              onHandedOver?.();
              writeData(dataStream, socketOf(pooled.connection), raw);
              dataStream.end();
              return dataStream;
            },
          };
          pooled.connection.send(envelope, message as never, (error, info) =>
            error ? reject(error) : resolve(info as { response?: string }),
          );
        });
        pooled.messages++;
        this.release(pooled);
        return { response: info.response ?? '' };
      } catch (error) {
        const failure = error as { responseCode?: number; code?: string };
        // A server closing the connection (421) or a connection that died before the message
        // left: try once more on a fresh connection.
        const closedBeforeData =
          !handedOver && (failure.responseCode === 421 || failure.code === 'ECONNECTION' || failure.code === 'ESOCKET');
        if (closedBeforeData || pooled.broken) this.discard(pooled);
        else await this.resetOrDiscard(pooled);
        if (closedBeforeData && attempt === 1 && !this.closed) continue;
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(new Error('the SMTP pool is closed'));
    for (const pooled of this.idle.splice(0)) {
      this.open--;
      pooled.connection.quit();
    }
  }

  private acquire(): Promise<PooledConnection> {
    if (this.closed) return Promise.reject(new Error('the SMTP pool is closed'));
    const idle = this.idle.pop();
    if (idle) return Promise.resolve(idle);
    if (this.open < this.options.maxConnections) {
      this.open++;
      return this.connect().catch((error) => {
        this.open--;
        this.wakeForCapacity();
        throw error;
      });
    }
    return new Promise((resolve, reject) => {
      this.waiters.push((c) => (c instanceof Error ? reject(c) : resolve(c)));
    });
  }

  private release(pooled: PooledConnection): void {
    if (pooled.broken || pooled.messages >= this.options.maxMessages || this.closed) {
      if (!pooled.broken) pooled.connection.quit();
      this.discard(pooled);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) waiter(pooled);
    else this.idle.push(pooled);
  }

  private discard(pooled: PooledConnection): void {
    if (!pooled.broken) {
      pooled.broken = true;
      pooled.connection.close();
    }
    const at = this.idle.indexOf(pooled);
    if (at >= 0) this.idle.splice(at, 1);
    this.open--;
    this.wakeForCapacity();
  }

  /** A waiter left without a connection gets a new one when capacity frees up. */
  private wakeForCapacity(): void {
    const waiter = this.waiters.shift();
    if (!waiter) return;
    this.open++;
    this.connect().then(waiter, (error) => {
      this.open--;
      waiter(error);
    });
  }

  private async resetOrDiscard(pooled: PooledConnection): Promise<void> {
    await new Promise<void>((resolve) => {
      pooled.connection.reset((error) => {
        if (error) this.discard(pooled);
        else this.release(pooled);
        resolve();
      });
    });
  }

  private connect(): Promise<PooledConnection> {
    const { options } = this;
    const connection = new SMTPConnection({
      host: options.host,
      port: options.port,
      secure: options.secure,
      requireTLS: options.requireTls,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      ...(options.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
    });
    const pooled: PooledConnection = { connection, messages: 0, broken: false };
    return new Promise((resolve, reject) => {
      let ready = false;
      const fail = (error: Error) => {
        if (!pooled.broken) {
          pooled.broken = true;
          connection.close();
        }
        if (!ready) reject(error);
      };
      connection.on('error', fail);
      connection.on('end', () => {
        // The server hung up an idle connection: forget it.
        if (ready && !pooled.broken) {
          pooled.broken = true;
          const at = this.idle.indexOf(pooled);
          if (at >= 0) {
            this.idle.splice(at, 1);
            this.open--;
          }
        }
      });
      connection.connect(() => {
        if (!options.auth) {
          ready = true;
          resolve(pooled);
          return;
        }
        connection.login(options.auth, (error) => {
          if (error) return fail(error);
          ready = true;
          resolve(pooled);
        });
      });
    });
  }
}
