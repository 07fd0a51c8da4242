// Errors that say a service the work needs (the database, Redis, the broker) is out of reach for
// now — a restart, a failover, a dropped connection — rather than that the work itself is wrong.
// Consumers wait such an outage out instead of counting it against the event.

/** Socket errors of a peer that is restarting or unreachable. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** postgres.js's own codes for a connection that closed or never opened. */
const DRIVER_CODES = new Set(['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT']);
/**
 * SQLSTATEs of a server going away or refusing for now: shutdown (57P01-57P03), too many
 * connections, a transaction that lost a race (serialization, deadlock), a primary that became a
 * read-only standby in a failover. Class 08 (connection exceptions) is matched as a whole.
 */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300', '40001', '40P01', '25006']);
/** ioredis while it reconnects. */
const REDIS_NAMES = new Set(['MaxRetriesPerRequestError']);
const REDIS_MESSAGES = new Set(['Connection is closed.']);

export function isTransientError(error: unknown): boolean {
  // Drivers and drizzle wrap the original error (DrizzleQueryError: "Failed query ..."): look inside.
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const { code, retriable } = e as Error & { code?: unknown; retriable?: unknown };
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code) || DRIVER_CODES.has(code) || SERVER_CODES.has(code)) return true;
      if (/^08[0-9A-Z]{3}$/.test(code)) return true;
    }
    // kafkajs marks what its retries may get past.
    if (retriable === true) return true;
    if (REDIS_NAMES.has(e.name) || REDIS_MESSAGES.has(e.message)) return true;
  }
  return false;
}
