// nodemailer and smtp-server for the send benchmark, loaded at run time.
//
// bench/package.json does not list them yet. Until it gains
//   "nodemailer": "10.6.0", "smtp-server": "3.21.6"
//   (devDependencies: "@types/nodemailer": "8.0.2", "@types/smtp-server": "3.5.13")
// they are resolved from subgraphs/delivery, which depends on the same versions. Once bench
// has them, the first `require` below succeeds and the fallback is never used.
// The types here are the small subset the benchmark uses, so this file type-checks with or
// without the @types packages.
import { createRequire } from 'node:module';
import type { Server } from 'node:net';
import type { Readable } from 'node:stream';

const fromBench = createRequire(import.meta.url);
const fromDelivery = createRequire(new URL('../../subgraphs/delivery/package.json', import.meta.url));

function load<T>(name: string): T {
  try {
    return fromBench(name) as T;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    try {
      return fromDelivery(name) as T;
    } catch {
      throw new Error(`bench/send needs "${name}": add it to bench/package.json (see bench/send/deps.ts)`);
    }
  }
}

// ------------------------------------------------------------------ nodemailer
export interface SendResult {
  accepted: unknown[];
  rejected: unknown[];
  response: string;
}

export interface Transporter {
  sendMail(mail: { envelope: { from: string; to: string[] }; raw: Buffer | string }): Promise<SendResult>;
  verify(): Promise<true>;
  close(): void;
}

export interface NodemailerModule {
  createTransport(options: Record<string, unknown>): Transporter;
}

export const nodemailer = (): NodemailerModule => load<NodemailerModule>('nodemailer');

// ----------------------------------------------------------------- smtp-server
export interface SmtpAddress {
  address: string;
  args: Record<string, string> | false;
}

export interface SmtpSession {
  id: string;
  envelope: { mailFrom: SmtpAddress | false; rcptTo: SmtpAddress[] };
}

type Done = (error?: Error | null) => void;

export interface SmtpServerOptions {
  secure?: boolean;
  authOptional?: boolean;
  disabledCommands?: string[];
  hideSTARTTLS?: boolean;
  disableReverseLookup?: boolean;
  banner?: string;
  size?: number;
  maxClients?: number;
  logger?: boolean;
  socketTimeout?: number;
  closeTimeout?: number;
  onRcptTo?(address: SmtpAddress, session: SmtpSession, callback: Done): void;
  onData?(stream: Readable & { sizeExceeded?: boolean }, session: SmtpSession, callback: Done): void;
}

export interface SmtpServer {
  listen(port: number, host: string, callback?: () => void): Server;
  close(callback?: () => void): void;
  on(event: 'error', listener: (error: Error) => void): this;
  connections: Set<unknown>;
}

export interface SmtpServerModule {
  SMTPServer: new (options: SmtpServerOptions) => SmtpServer;
}

export const smtpServer = (): SmtpServerModule => load<SmtpServerModule>('smtp-server');
