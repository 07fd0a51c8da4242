// A pool of SMTP connections that sends ready-made MIME messages. nodemailer's SMTPConnection
// opens each one (greeting, EHLO, STARTTLS, AUTH); a server that announces PIPELINING then gets
// its messages through an SmtpSession (smtp-session.ts), two at a time per connection, and one
// that does not gets them one at a time through nodemailer. Reasons not to use nodemailer's own
// pooled transport:
// - the hand-over hook: when the server's 354 arrives, `onHandedOver` runs and, in the same
//   synchronous step, the body and its final dot are written to the socket (nodemailer's
//   transport pipes the message through several streams, and the dot left a few ticks after
//   anything we could observe);
// - speed: it skips the per-message message-object and stream pipeline (~30% of the CPU a send
//   took through the transport).
// With an outbound guard, every connection goes to an address the guard checked when it opened.
import { createRequire } from 'node:module';
import { isIP, type Socket } from 'node:net';
import type { OutboundGuard } from '@mauntic/platform';
import type SMTPConnectionType from 'nodemailer/lib/smtp-connection';
import { dataBytes, type SmtpEnvelope, SmtpSession } from './smtp-session.ts';

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

/** The connection's socket (after STARTTLS, the TLS one): SMTPConnection keeps it as `_socket`. */
const socketOf = (connection: SMTPConnectionType) => (connection as unknown as { _socket: Socket })._socket;

const END_OF_DATA = Buffer.from('.\r\n');

/**
 * Writes the message for SMTPConnection, already escaped (dataBytes), with its final dot,
 * straight to the socket in one synchronous step, so nothing runs between the journal's
 * hand-over line and the dot. (Through nodemailer's data stream it would leave a tick later, since
 * a new stream emits its first chunk on the next tick, and a process killed in between would lose
 * a journaled message; its byte-by-byte escaper also cost ~15% of an engine's CPU.) The data
 * stream then ends empty; SMTPConnection only counts its bytes.
 */
function writeData(dataStream: DataStream, socket: Socket, raw: Buffer): void {
  if (typeof dataStream.push !== 'function' || !('lastByte' in dataStream)) {
    dataStream.write(raw);
    return;
  }
  const data = dataBytes(raw);
  dataStream.inByteCount += raw.length;
  dataStream.outByteCount += data.length + END_OF_DATA.length;
  dataStream.lastByte = 0x0a;
  dataStream._flush = (done) => done();
  socket.cork();
  socket.write(data);
  socket.write(END_OF_DATA);
  socket.uncork();
}

export type { SmtpEnvelope } from './smtp-session.ts';

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
  /** Checks the addresses `host` leads to each time a connection opens; unchecked without one. */
  outbound?: OutboundGuard;
  /** The local address connections leave from (a sending IP). */
  localAddress?: string;
}

/**
 * Where a connection to `host` goes. With a guard the name is resolved and checked here and the
 * connection made to the checked address: given the name, nodemailer would resolve it again
 * itself, and a name rebound in between (to 127.0.0.1) would get through. TLS still names the
 * host (SNI and the certificate check).
 */
async function connectionTarget(
  host: string,
  outbound?: OutboundGuard,
): Promise<{ host: string; servername?: string }> {
  if (!outbound) return { host };
  const addresses = await outbound.assertPublicHost(host);
  // One address a connection; IPv4 first, the family a dual-stack relay is most surely reached on.
  const address = addresses.find((a) => a.family === 4) ?? addresses[0];
  if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return isIP(host) ? { host: address.address } : { host: address.address, servername: host };
}

interface PooledConnection {
  connection: SMTPConnectionType;
  /** Null when the server does not pipeline: one message at a time through nodemailer. */
  session: SmtpSession | null;
  inFlight: number;
  /** Messages given to this connection so far. */
  messages: number;
  broken: boolean;
}

type Waiter = (connection: PooledConnection | Error) => void;

/** Messages a pipelining connection carries at once: one in its transaction, one riding along. */
const PIPELINE_DEPTH = 2;

export class SmtpPool {
  private readonly connections: PooledConnection[] = [];
  private readonly waiters: Waiter[] = [];
  /** Connections open or opening. */
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
      const handOver = () => {
        handedOver = true;
        onHandedOver?.();
      };
      try {
        const response = pooled.session
          ? await pooled.session.send(envelope, raw, handOver)
          : await this.sendThroughNodemailer(pooled, envelope, raw, handOver);
        this.release(pooled);
        return { response };
      } catch (error) {
        const failure = error as { responseCode?: number; code?: string };
        // A server closing the connection (421) or a connection that died before the message
        // left: try once more on a fresh connection.
        const closedBeforeData =
          !handedOver && (failure.responseCode === 421 || failure.code === 'ECONNECTION' || failure.code === 'ESOCKET');
        if (closedBeforeData) pooled.broken = true;
        // A session ends a refused transaction itself (RSET); nodemailer's needs a reset.
        if (pooled.session || pooled.broken) this.release(pooled);
        else await this.resetOrDiscard(pooled);
        if (closedBeforeData && attempt === 1 && !this.closed) continue;
        throw error;
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter(new Error('the SMTP pool is closed'));
    for (const pooled of [...this.connections]) if (pooled.inFlight === 0) this.retire(pooled);
  }

  /**
   * A connection with room for one more message, opened if need be; counts the message on it.
   * Senders that wait are served in the order they came.
   */
  private acquire(): Promise<PooledConnection> {
    if (this.closed) return Promise.reject(new Error('the SMTP pool is closed'));
    if (this.waiters.length === 0) {
      const ready =
        this.withRoom(1) ?? (this.open < this.options.maxConnections ? undefined : this.withRoom(PIPELINE_DEPTH));
      if (ready) return Promise.resolve(this.take(ready));
    }
    const waiting = new Promise<PooledConnection>((resolve, reject) => {
      this.waiters.push((c) => (c instanceof Error ? reject(c) : resolve(this.take(c))));
    });
    this.wakeForCapacity();
    return waiting;
  }

  /** An open connection carrying fewer than `depth` messages (an idle one first). */
  private withRoom(depth: number): PooledConnection | undefined {
    let best: PooledConnection | undefined;
    for (const pooled of this.connections) {
      if (this.hasRoom(pooled, depth) && (!best || pooled.inFlight < best.inFlight)) best = pooled;
      if (best?.inFlight === 0) break;
    }
    return best;
  }

  private hasRoom(pooled: PooledConnection, depth = PIPELINE_DEPTH): boolean {
    return this.usable(pooled) && pooled.inFlight < (pooled.session ? depth : 1);
  }

  /** Gives waiting senders the room `pooled` has. */
  private serveWaiters(pooled: PooledConnection): void {
    while (this.waiters.length > 0 && this.hasRoom(pooled)) this.waiters.shift()!(pooled);
  }

  private take(pooled: PooledConnection): PooledConnection {
    pooled.inFlight++;
    pooled.messages++;
    return pooled;
  }

  private usable(pooled: PooledConnection): boolean {
    return (
      !pooled.broken && (pooled.session?.usable ?? true) && pooled.messages < this.options.maxMessages && !this.closed
    );
  }

  /** A message on `pooled` is done: the connection takes the next one, or leaves the pool. */
  private release(pooled: PooledConnection): void {
    pooled.inFlight--;
    if (!this.usable(pooled)) {
      if (pooled.inFlight === 0) this.retire(pooled);
      else if (pooled.broken || pooled.session?.usable === false) this.forget(pooled);
      return;
    }
    this.serveWaiters(pooled);
  }

  /** Closes a connection that has nothing in flight: QUIT when it is healthy. */
  private retire(pooled: PooledConnection): void {
    if (!pooled.broken && (pooled.session?.usable ?? true)) {
      if (pooled.session) pooled.session.quit();
      else pooled.connection.quit();
    } else {
      pooled.connection.close();
    }
    pooled.broken = true;
    this.forget(pooled);
  }

  /** Takes a connection out of the pool (once), which frees room for a new one. */
  private forget(pooled: PooledConnection): void {
    const at = this.connections.indexOf(pooled);
    if (at < 0) return;
    this.connections.splice(at, 1);
    this.open--;
    this.wakeForCapacity();
  }

  /** Opens a connection for the oldest waiter while there is capacity; it fails that waiter. */
  private wakeForCapacity(): void {
    if (this.closed || this.open >= this.options.maxConnections || this.waiters.length === 0) return;
    this.open++;
    this.connect().then(
      (pooled) => this.serveWaiters(pooled),
      (error) => {
        this.open--;
        this.waiters.shift()?.(error);
        this.wakeForCapacity();
      },
    );
  }

  /** One message through nodemailer's own transaction (servers without PIPELINING). */
  private sendThroughNodemailer(
    pooled: PooledConnection,
    envelope: SmtpEnvelope,
    raw: Buffer,
    onHandedOver: () => void,
  ): Promise<string> {
    return new Promise((resolve, reject) => {
      const message = {
        // SMTPConnection pipes a message that has pipe() into its data stream once the server
        // said 354; writing the Buffer there sends body and dot at once.
        pipe(dataStream: DataStream) {
          onHandedOver();
          writeData(dataStream, socketOf(pooled.connection), raw);
          dataStream.end();
          return dataStream;
        },
      };
      pooled.connection.send(envelope, message as never, (error, info) =>
        error ? reject(error) : resolve((info as { response?: string }).response ?? ''),
      );
    });
  }

  private async resetOrDiscard(pooled: PooledConnection): Promise<void> {
    await new Promise<void>((resolve) => {
      pooled.connection.reset((error) => {
        if (error) pooled.broken = true;
        this.release(pooled);
        resolve();
      });
    });
  }

  private async connect(): Promise<PooledConnection> {
    const { options } = this;
    const target = await connectionTarget(options.host, options.outbound);
    if (this.closed) throw new Error('the SMTP pool is closed');
    const connection = new SMTPConnection({
      host: target.host,
      port: options.port,
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
      secure: options.secure,
      requireTLS: options.requireTls,
      connectionTimeout: options.timeoutMs,
      greetingTimeout: options.timeoutMs,
      socketTimeout: options.timeoutMs,
      tls: {
        ...(target.servername ? { servername: target.servername } : {}),
        ...(options.allowSelfSigned ? { rejectUnauthorized: false } : {}),
      },
    });
    const pooled: PooledConnection = { connection, session: null, inFlight: 0, messages: 0, broken: false };
    return new Promise((resolve, reject) => {
      let ready = false;
      const fail = (error: Error) => {
        if (!pooled.broken) {
          pooled.broken = true;
          connection.close();
        }
        if (!ready) reject(error);
        else if (pooled.inFlight === 0) this.forget(pooled);
      };
      connection.on('error', fail);
      connection.on('end', () => {
        // The server hung up: an idle connection is forgotten now, a busy one when its
        // messages have failed.
        pooled.broken = true;
        if (ready && pooled.inFlight === 0) this.forget(pooled);
      });
      const opened = () => {
        ready = true;
        const extensions = (connection as unknown as { _supportedExtensions: string[] })._supportedExtensions;
        if (extensions.includes('PIPELINING')) pooled.session = new SmtpSession(connection);
        this.connections.push(pooled);
        resolve(pooled);
      };
      connection.connect(() => {
        if (!options.auth) return opened();
        connection.login(options.auth, (error) => (error ? fail(error) : opened()));
      });
    });
  }
}
