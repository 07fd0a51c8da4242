// An SMTP server for tests: records every accepted message and can be told to reject recipients
// with a given reply code (421 try later, 550 no such user...).
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface RecordedMail {
  mailFrom: string;
  rcptTo: string[];
  raw: Buffer;
  user?: string;
  /** The address the client connected from (a sending IP it bound). */
  remoteAddress: string;
}

export interface SmtpFake {
  port: number;
  messages: RecordedMail[];
  /** The next `times` RCPT TO commands are answered with `code` (default: every one until reset). */
  rejectRecipients(code: number, times?: number): void;
  reset(): void;
  /** Connections opened so far: shows whether the pool reuses them. */
  connections(): number;
  close(): Promise<void>;
}

export async function startSmtpFake(
  options: { user?: string; pass?: string /** Announce PIPELINING (default true). */; pipelining?: boolean } = {},
): Promise<SmtpFake> {
  const messages: RecordedMail[] = [];
  let rejection: { code: number; remaining: number } | undefined;
  let connections = 0;

  const server = new SMTPServer({
    disabledCommands: options.user ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.user,
    hidePIPELINING: options.pipelining === false,
    allowInsecureAuth: true,
    logger: false,
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.pass) {
        callback(null, { user: auth.username });
        return;
      }
      callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(_address, _session, callback) {
      if (rejection && rejection.remaining > 0) {
        rejection.remaining -= 1;
        const text = rejection.code < 500 ? 'Try again later' : 'No such user here';
        callback(Object.assign(new Error(text), { responseCode: rejection.code }));
        return;
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const from = session.envelope.mailFrom;
        messages.push({
          mailFrom: from ? from.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          user: typeof session.user === 'string' ? session.user : undefined,
          remoteAddress: session.remoteAddress,
        });
        callback(null, `Ok: queued as Q${messages.length}`);
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;

  return {
    port,
    messages,
    rejectRecipients(code, times = Number.POSITIVE_INFINITY) {
      rejection = { code, remaining: times };
    },
    reset() {
      rejection = undefined;
      messages.length = 0;
    },
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
