// Structured logs (pino). The correlation id and organization of the work in progress are
// carried in AsyncLocalStorage and stamped on every line, from the gateway through subgraphs
// and event handlers.
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

export type { Logger };

export interface LogScope {
  correlationId?: string;
  organizationId?: string;
}

const scope = new AsyncLocalStorage<LogScope>();

export const runWithLogScope = <T>(values: LogScope, fn: () => T): T =>
  scope.run({ ...scope.getStore(), ...values }, fn);
export const currentLogScope = (): LogScope => scope.getStore() ?? {};

export const REDACTED_PATHS = [
  'password',
  '*.password',
  'token',
  '*.token',
  'refreshToken',
  '*.refreshToken',
  'secret',
  '*.secret',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
  'variables.input.password',
];

export function createLogger(name: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name,
    level,
    base: { service: name },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    mixin: () => ({ ...scope.getStore() }),
  });
}
