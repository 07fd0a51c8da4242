// What an organization may read of why its provider failed. A message's stored error keeps the
// provider's own words for operators (the row, the engine's log); when those words describe the
// connection (addresses, ports, socket errors, how far the handshake got: `connect ECONNREFUSED
// 10.0.0.5:25`, `Greeting never received`), an organization reads a generic reason instead, so it
// cannot map the network the platform runs in by pointing a provider at it. SMTP replies and HTTP
// answers from a provider that was reached stay as they are.

export const CONNECTION_FAILED = 'could not connect to the provider';

/** The engine's prefix for a failure the provider reported (see dispatch.ts). */
const PROVIDER_ERROR = 'provider_error: ';

const CONNECTION_DETAIL = [
  // Socket, DNS and TLS-handshake error codes (Node, nodemailer, undici) and the outbound guard's.
  /\b(?:E(?:CONN(?:REFUSED|RESET|ABORTED|ECTION)?|TIMEDOUT|HOSTUNREACH|HOSTDOWN|NETUNREACH|NETDOWN|ADDRNOTAVAIL|ADDRINUSE|PIPE|NOTFOUND|AI_AGAIN|AI_NONAME|SOCKET(?:TIMEDOUT)?|DNS|PROTO)|UND_ERR_[A-Z_]+|ERR_OUTBOUND_ADDRESS_REFUSED)\b/,
  // An IPv4 address, an IPv6 one (compressed, or four groups and more).
  /\b\d{1,3}(?:\.\d{1,3}){3}\b/,
  /[0-9a-f]{0,4}::[0-9a-f]{0,4}|\b(?:[0-9a-f]{1,4}:){3,7}[0-9a-f]{1,4}\b/i,
  // How far a connection got before it failed: these tell open, closed and filtered ports apart.
  /connection (?:timeout|closed|refused|reset|lost)|greeting|unexpected socket close|socket hang ?up|getaddrinfo|fetch failed|network error|other side closed/i,
];

/** The stored error as the message's organization may read it. */
export function tenantVisibleError(error: string | null): string | null {
  if (!error?.startsWith(PROVIDER_ERROR)) return error;
  return CONNECTION_DETAIL.some((pattern) => pattern.test(error)) ? `${PROVIDER_ERROR}${CONNECTION_FAILED}` : error;
}
