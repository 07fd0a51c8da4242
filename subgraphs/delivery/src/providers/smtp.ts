// Email over SMTP through a pool of nodemailer SMTP connections (see smtp-pool.ts): connections
// stay open between messages, which is what makes bulk sending fast.
import type { OutboundGuard } from '@mauntic/platform';
import { addressRefused, describe } from './errors.ts';
import { composeFields, toMime } from './mime.ts';
import { SmtpPool } from './smtp-pool.ts';
import { type EmailMessage, type Provider, ProviderError, type SendOptions, type SendResult } from './types.ts';

export interface SmtpOptions {
  host: string;
  port: number;
  /** Implicit TLS (port 465). STARTTLS is used whenever the server offers it. */
  secure: boolean;
  /** Refuse to send unless STARTTLS succeeds. */
  requireTls?: boolean;
  user?: string;
  pass?: string;
  maxConnections?: number;
  /** Messages a connection carries before it is replaced. */
  maxMessages?: number;
  timeoutMs?: number;
  /** Accept self-signed certificates (test relays, private smarthosts). */
  allowSelfSigned?: boolean;
  /** Where `host` may lead, checked each time a connection opens; unchecked without one. */
  outbound?: OutboundGuard;
}

const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ETLS',
  'EPROTOCOL',
  'EMAXLIMIT',
  'EABORT',
  'ECONNREFUSED',
  'ECONNRESET',
]);

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
  rejectedErrors?: SmtpFailure[];
}

/**
 * SMTP reply codes decide: 4xx is transient, 5xx a permanent rejection. Failures before any reply
 * (refused connection, timeout, TLS) are transient, except an address the outbound guard refused,
 * which stays refused. Authentication failures are the account's fault, not the recipient's, so
 * they are retryable (`auth_failed`) and fail over.
 */
export function smtpError(error: unknown): ProviderError {
  const refused = addressRefused(error);
  if (refused) return refused;
  const failure = (error ?? {}) as SmtpFailure;
  const first = failure.responseCode === undefined ? failure.rejectedErrors?.[0] : undefined;
  const responseCode = failure.responseCode ?? first?.responseCode;
  const message = `SMTP ${failure.command ? `${failure.command}: ` : ''}${describe(error)}`;
  if (failure.code === 'EAUTH' || failure.code === 'ENOAUTH') return new ProviderError(message, true, 'auth_failed');
  if (typeof responseCode === 'number') {
    const code = `smtp_${responseCode}`;
    if (responseCode >= 400 && responseCode < 500) return new ProviderError(message, true, code);
    if (responseCode >= 500) return new ProviderError(message, false, code);
  }
  if (failure.code && TRANSIENT_CODES.has(failure.code)) {
    return new ProviderError(message, true, failure.code === 'ETIMEDOUT' ? 'timeout' : 'network');
  }
  // A message nodemailer could not build or an envelope it refused before talking to the server.
  if (failure.code === 'EMESSAGE' || failure.code === 'EENVELOPE') return new ProviderError(message, false, 'invalid');
  return new ProviderError(message, true, 'network');
}

export function createSmtpProvider(options: SmtpOptions): Provider<EmailMessage> {
  // One pool per local address: a connection leaves from the sending IP chosen for its messages.
  const pools = new Map<string, SmtpPool>();
  const poolFor = (localAddress = '') => {
    let pool = pools.get(localAddress);
    if (!pool) {
      pool = newPool(options, localAddress);
      pools.set(localAddress, pool);
    }
    return pool;
  };

  return {
    kind: 'smtp',
    async send(message: EmailMessage, sendOptions?: SendOptions): Promise<SendResult> {
      const fields = composeFields(message);
      try {
        // The hook runs when the server has accepted the envelope and the body with its final dot
        // is written: from then on the server may have the message even if its reply never
        // reaches us (RFC 1047). Earlier failures (refused connection, rejected recipient) leave
        // the message not handed over.
        const info = await poolFor(message.localAddress).send(
          fields.envelope,
          await toMime(message),
          sendOptions?.onHandedOver,
        );
        // Postfix and most MTAs answer "250 2.0.0 Ok: queued as <id>"; that id finds the message in
        // the relay's logs. Otherwise our own Message-ID is the best handle there is.
        const queued = /queued as ([\w.-]+)/i.exec(info.response);
        return { providerMessageId: queued?.[1] ?? fields.messageId };
      } catch (error) {
        throw smtpError(error);
      }
    },
    close: async () => {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
    },
  };
}

function newPool(options: SmtpOptions, localAddress: string): SmtpPool {
  return new SmtpPool({
    host: options.host,
    port: options.port,
    secure: options.secure,
    requireTls: options.requireTls ?? false,
    ...(options.user ? { auth: { user: options.user, pass: options.pass ?? '' } } : {}),
    maxConnections: options.maxConnections ?? 5,
    maxMessages: options.maxMessages ?? 100_000,
    timeoutMs: options.timeoutMs ?? 30_000,
    allowSelfSigned: options.allowSelfSigned ?? false,
    ...(options.outbound ? { outbound: options.outbound } : {}),
    ...(localAddress ? { localAddress } : {}),
  });
}
