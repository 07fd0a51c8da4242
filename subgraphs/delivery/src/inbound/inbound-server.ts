// The SMTP (or LMTP) endpoint bounces and feedback-loop reports are delivered to. A message is
// acknowledged only after its feedback has been handed over: if that fails the sender gets a 451
// and keeps the bounce in its queue, so none is lost.
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import type { Feedback } from './feedback.ts';
import { type InboundMessageKind, parseInboundMessage } from './parse-inbound.ts';

export interface InboundLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface InboundEnvelope {
  /** Empty for bounces (`MAIL FROM:<>`). */
  mailFrom: string;
  rcptTo: string[];
  remoteAddress: string;
}

export interface InboundServerOptions {
  /** 0 picks a free port; read the chosen one from the result. */
  port: number;
  host?: string;
  /** Speak LMTP (RFC 2033) instead of SMTP, for delivery from a local MTA. */
  lmtp?: boolean;
  /** Accept recipients in these domains only (case-insensitive); any recipient when absent. */
  domains?: string[];
  /** Largest message accepted, in bytes. Default 10 MiB. */
  maxMessageBytes?: number;
  /** Called once per message that carries feedback; a rejection makes the sender retry later. */
  onFeedback: (feedback: Feedback[], raw: Buffer, envelope: InboundEnvelope) => Promise<void>;
  logger: InboundLogger;
  /** Host name in the greeting. */
  name?: string;
}

export interface InboundServer {
  port: number;
  host: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_BYTES = 10 * 1024 * 1024;

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startInboundServer(options: InboundServerOptions): Promise<InboundServer> {
  const { logger } = options;
  const maxBytes = options.maxMessageBytes ?? DEFAULT_MAX_BYTES;
  const domains = options.domains?.map((d) => d.toLowerCase());

  const handle = async (raw: Buffer, envelope: InboundEnvelope): Promise<InboundMessageKind> => {
    const { kind, feedback } = parseInboundMessage(raw, { envelopeRecipients: envelope.rcptTo });
    if (feedback.length) await options.onFeedback(feedback, raw, envelope);
    return kind;
  };

  const server = new SMTPServer({
    lmtp: options.lmtp ?? false,
    name: options.name,
    banner: 'Mauntic feedback receiver',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: maxBytes,
    maxClients: 200,
    logger: false,
    onRcptTo(address: SMTPServerAddress, _session, callback) {
      const domain = address.address.split('@').pop()?.toLowerCase() ?? '';
      if (domains && !domains.includes(domain)) {
        return callback(smtpError(550, `5.7.1 <${address.address}>: relay access denied`));
      }
      callback();
    },
    onData(stream, session, callback) {
      readAll(stream, maxBytes).then(
        async (raw) => {
          if (stream.sizeExceeded || !raw) {
            return callback(smtpError(552, `5.3.4 Message exceeds the ${maxBytes} byte limit`));
          }
          const envelope: InboundEnvelope = {
            mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            rcptTo: session.envelope.rcptTo.map((r) => r.address),
            remoteAddress: session.remoteAddress,
          };
          try {
            const kind = await handle(raw, envelope);
            logger.debug({ kind, rcptTo: envelope.rcptTo, bytes: raw.length }, 'inbound message accepted');
            callback(null, kind === 'ignored' ? 'Accepted (not a report)' : 'Report accepted');
          } catch (error) {
            logger.error(
              { err: error, rcptTo: envelope.rcptTo },
              'inbound feedback not handled; sender asked to retry',
            );
            callback(smtpError(451, '4.3.0 Temporary failure handling the report, try again later'));
          }
        },
        (error: unknown) => {
          logger.warn({ err: error }, 'inbound message stream failed');
          callback(smtpError(451, '4.3.0 Temporary failure reading the message'));
        },
      );
    },
  });
  server.on('error', (error) => logger.warn({ err: error }, 'inbound SMTP connection error'));

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.server.once('error', onError);
    server.listen(options.port, host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const port = (server.server.address() as AddressInfo).port;
  logger.info({ host, port, lmtp: options.lmtp ?? false }, 'inbound feedback server listening');
  return {
    port,
    host,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The whole message, or null once it passes the limit (the rest is drained, not kept). */
async function readAll(stream: Readable, maxBytes: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size <= maxBytes) chunks.push(chunk as Buffer);
  }
  return size > maxBytes ? null : Buffer.concat(chunks, size);
}
