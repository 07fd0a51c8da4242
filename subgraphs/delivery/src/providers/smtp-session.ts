// Mail transactions over an SMTP connection that nodemailer has opened (greeting, EHLO, STARTTLS,
// AUTH) and whose server announced PIPELINING (RFC 2920). nodemailer sends one message at a
// time, waits for its final reply before the next MAIL, and handles one reply per event-loop
// turn; here a connection carries a second message behind the first:
//
//   write 1:  MAIL FROM, RCPT TO, DATA                      (message 1's envelope)
//   write 2:  message 1's body, ".", MAIL FROM, RCPT TO, DATA (message 2's envelope rides along)
//   write 3:  message 2's body, ".", ...
//
// so a message costs one write and usually one read instead of two of each. Writes wait for the
// end of the event-loop turn (the socket is corked until setImmediate), so the envelope of a
// message sent while the previous one's body is being written still rides along with it. A body is
// written only after its DATA got 354, as the RFC requires, and its `onHandedOver` runs right
// before the write that carries it, in the same synchronous step (the delivery journal relies on
// it).
import type { Socket } from 'node:net';
import type SMTPConnectionType from 'nodemailer/lib/smtp-connection';
import { CANONICAL } from './mime.ts';

export interface SmtpEnvelope {
  from: string;
  to: string[];
}

/** What a failed transaction rejects with: the shape nodemailer gives, which smtpError() reads. */
export interface SmtpFailure extends Error {
  code: 'EENVELOPE' | 'EMESSAGE' | 'ECONNECTION' | 'EPROTOCOL';
  responseCode?: number;
  response?: string;
  command?: string;
  /** The body and its final dot were written: the server may have the message. */
  handedOver: boolean;
}

interface Reply {
  code: number;
  text: string;
}

interface Transaction {
  envelope: SmtpEnvelope;
  raw: Buffer;
  onHandedOver?: () => void;
  resolve(response: string): void;
  reject(error: SmtpFailure): void;
  handedOver: boolean;
  mailError: Reply | null;
  rejected: Reply[];
  accepted: number;
}

const CRLF_DOT = Buffer.from('\r\n.');

/**
 * The bytes DATA carries before the final dot (RFC 5321 4.5.2): CRLF line ends, a dot doubled at
 * the start of a line, and a CRLF at the end. A canonical message (mime.ts) without lines that
 * start with a dot is already that, and goes as it is.
 */
export function dataBytes(raw: Buffer): Buffer {
  if (
    CANONICAL.has(raw) &&
    raw.length >= 2 &&
    raw[0] !== 0x2e &&
    raw[raw.length - 2] === 0x0d &&
    raw[raw.length - 1] === 0x0a &&
    raw.indexOf(CRLF_DOT) < 0
  )
    return raw;
  // latin1 maps each byte to one character and back, so 8-bit bodies pass unchanged.
  let text = raw.toString('latin1').replace(/\r\n|\r|\n/g, '\r\n');
  if (!text.endsWith('\r\n')) text += '\r\n';
  text = text.replaceAll('\r\n.', '\r\n..');
  if (text.startsWith('.')) text = `.${text}`;
  return Buffer.from(text, 'latin1');
}

const failure = (
  message: string,
  code: SmtpFailure['code'],
  handedOver: boolean,
  reply?: Reply,
  command?: string,
): SmtpFailure =>
  Object.assign(new Error(reply ? `${message}: ${reply.text}` : message), {
    code,
    handedOver,
    ...(reply ? { responseCode: reply.code, response: reply.text } : {}),
    ...(command ? { command } : {}),
  });

const REPLY_LINE = /^(\d{3})([ -])(.*)$/;

export class SmtpSession {
  private readonly socket: Socket;
  private readonly smtpUtf8: boolean;
  /** Handlers for the replies still to come, in the order the commands went out. */
  private readonly handlers: ((reply: Reply) => void)[] = [];
  /** Transactions sent or waiting, oldest first; settled ones leave it. */
  private readonly open: Transaction[] = [];
  /** Transactions not written yet: each waits for the one before it to get its 354. */
  private readonly waiting: Transaction[] = [];
  /** The transaction whose DATA is out and whose 354 has not come. */
  private awaitingData: Transaction | null = null;
  private partial = '';
  private lines: string[] = [];
  /** The socket is corked until the end of this event-loop turn. */
  private corked = false;
  /** Transactions whose body is in the corked writes: handed over when they leave. */
  private readonly handingOver: Transaction[] = [];
  /** Failed, closed, or quitting: takes no more messages. */
  private ended = false;

  constructor(private readonly connection: SMTPConnectionType) {
    const internals = connection as unknown as {
      _socket: Socket;
      _onSocketData: (chunk: Buffer) => void;
      _supportedExtensions: string[];
    };
    this.socket = internals._socket;
    this.smtpUtf8 = internals._supportedExtensions.includes('SMTPUTF8');
    // From here on the replies are read here: nodemailer's reader would take them for its own.
    this.socket.removeListener('data', internals._onSocketData);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    connection.on('error', (error: Error) => this.end('ECONNECTION', error.message));
    this.socket.once('close', () => this.end('ECONNECTION', 'the SMTP connection closed'));
  }

  get usable(): boolean {
    return !this.ended;
  }

  /** Sends one message; resolves with the server's final reply. */
  send(envelope: SmtpEnvelope, raw: Buffer, onHandedOver?: () => void): Promise<string> {
    return new Promise((resolve, reject) => {
      const transaction: Transaction = {
        envelope,
        raw,
        ...(onHandedOver ? { onHandedOver } : {}),
        resolve,
        reject,
        handedOver: false,
        mailError: null,
        rejected: [],
        accepted: 0,
      };
      if (this.ended) {
        reject(failure('the SMTP connection closed', 'ECONNECTION', false));
        return;
      }
      const invalid = [envelope.from, ...envelope.to].find((a) => /[\r\n<>]/.test(a));
      if (invalid !== undefined || envelope.to.length === 0) {
        reject(failure(`invalid envelope address ${JSON.stringify(invalid ?? '')}`, 'EENVELOPE', false));
        return;
      }
      this.open.push(transaction);
      if (this.awaitingData) this.waiting.push(transaction);
      else this.write(this.envelopeOf(transaction));
    });
  }

  /** Ends the session politely; call it when nothing is in flight. */
  quit(): void {
    if (this.ended) return;
    this.ended = true;
    this.socket.end('QUIT\r\n');
  }

  /** MAIL FROM, RCPT TO and DATA in one string; queues their handlers. */
  private envelopeOf(t: Transaction): string {
    this.awaitingData = t;
    const utf8 = this.smtpUtf8 && [t.envelope.from, ...t.envelope.to].some((a) => /[\u0080-\uffff]/.test(a));
    let commands = `MAIL FROM:<${t.envelope.from}>${utf8 ? ' SMTPUTF8' : ''}\r\n`;
    this.handlers.push((reply) => {
      if (reply.code >= 300) t.mailError = reply;
    });
    for (const to of t.envelope.to) {
      commands += `RCPT TO:<${to}>\r\n`;
      this.handlers.push((reply) => {
        if (reply.code < 300) t.accepted++;
        else t.rejected.push(reply);
      });
    }
    this.handlers.push((reply) => this.onDataReply(t, reply));
    return `${commands}DATA\r\n`;
  }

  private onDataReply(t: Transaction, reply: Reply): void {
    this.awaitingData = null;
    const next = this.waiting.shift();
    const refused = this.envelopeError(t, reply);
    if (!refused) {
      // 354 (a few servers say 250): the body goes now, the next envelope with it.
      this.handlers.push((final) => {
        if (final.code < 300) this.settle(t, null, final.text);
        else this.settle(t, failure('Message failed', 'EMESSAGE', true, final, 'DATA'));
      });
      this.handingOver.push(t);
      this.write(dataBytes(t.raw));
      this.write(next ? `.\r\n${this.envelopeOf(next)}` : '.\r\n');
      return;
    }
    this.settle(t, refused);
    if (reply.code < 400 && t.mailError) {
      // DATA taken after the sender was refused: nothing can be trusted on this connection.
      this.end('EPROTOCOL', 'the SMTP server accepted DATA without a sender');
      return;
    }
    // End the refused transaction (or the empty message a server let start) before the next one.
    const ending = reply.code < 400 ? '.\r\n' : 'RSET\r\n';
    this.handlers.push((answer) => {
      if (answer.code >= 400 && ending === 'RSET\r\n') this.end('EPROTOCOL', `RSET refused: ${answer.text}`);
    });
    this.write(next ? ending + this.envelopeOf(next) : ending);
  }

  /** Queues bytes for the write at the end of this event-loop turn. */
  private write(chunk: string | Buffer): void {
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      setImmediate(() => this.flush());
    }
    this.socket.write(chunk);
  }

  /** The hand-overs, then the one write that carries their bodies: one synchronous step. */
  private flush(): void {
    this.corked = false;
    if (this.ended && this.open.length === 0) return;
    for (const t of this.handingOver.splice(0)) {
      t.handedOver = true;
      t.onHandedOver?.();
    }
    this.socket.uncork();
  }

  /** Why the envelope failed, once DATA's reply is in; null when the body can go. */
  private envelopeError(t: Transaction, dataReply: Reply): SmtpFailure | null {
    if (t.mailError) return failure('Mail command failed', 'EENVELOPE', false, t.mailError, 'MAIL FROM');
    if (t.accepted === 0) {
      // A temporary rejection wins, so a deferred recipient is not reported as a permanent one.
      const reply = t.rejected.find((r) => r.code < 500) ?? t.rejected.at(-1) ?? dataReply;
      return failure("Can't send mail - all recipients were rejected", 'EENVELOPE', false, reply, 'RCPT TO');
    }
    if (dataReply.code >= 400) return failure('Data command failed', 'EENVELOPE', false, dataReply, 'DATA');
    return null;
  }

  private settle(t: Transaction, error: SmtpFailure | null, response = ''): void {
    const at = this.open.indexOf(t);
    if (at < 0) return;
    this.open.splice(at, 1);
    if (error) t.reject(error);
    else t.resolve(response);
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    const data = this.partial + chunk.toString('latin1');
    let start = 0;
    for (let end = data.indexOf('\n'); end >= 0; end = data.indexOf('\n', start)) {
      const line = data.slice(start, data[end - 1] === '\r' ? end - 1 : end);
      start = end + 1;
      if (!this.onLine(line)) return;
    }
    this.partial = data.slice(start);
    if (this.partial.length > 64 * 1024) this.end('EPROTOCOL', 'SMTP reply too long');
  }

  /** One reply line; false when the session ended. */
  private onLine(line: string): boolean {
    const match = REPLY_LINE.exec(line);
    if (!match) {
      this.end('EPROTOCOL', `unexpected SMTP reply ${JSON.stringify(line.slice(0, 200))}`);
      return false;
    }
    this.lines.push(match[3]!);
    if (match[2] === '-') return true;
    const reply: Reply = { code: Number(match[1]), text: `${match[1]} ${this.lines.join('\n')}` };
    this.lines = [];
    // 421: the server is closing the connection, whatever command it answers (RFC 5321 4.2).
    if (reply.code === 421) {
      this.end('ECONNECTION', 'the SMTP server is closing the connection', reply);
      return false;
    }
    const handler = this.handlers.shift();
    if (!handler) {
      this.end('EPROTOCOL', `unexpected SMTP reply ${reply.text}`);
      return false;
    }
    handler(reply);
    return !this.ended;
  }

  /**
   * Fails whatever is still open and closes the connection. With the server's 421 `reply`, a
   * message not handed over yet fails with that reply, which the pool retries on another
   * connection.
   */
  private end(code: SmtpFailure['code'], message: string, reply?: Reply): void {
    this.ended = true;
    this.handlers.length = 0;
    this.waiting.length = 0;
    // Bodies still in the corked writes never left: they fail as not handed over.
    this.handingOver.length = 0;
    this.awaitingData = null;
    for (const t of this.open.splice(0)) t.reject(failure(message, code, t.handedOver, reply));
    if (!this.socket.destroyed) this.connection.close();
  }
}
