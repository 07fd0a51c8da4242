// DNS answers for checking sending domains, from the resolvers DELIVERY_DNS_SERVERS names (the
// system's when unset). A name that does not exist or has no record of the type answers nothing;
// a server that fails or times out is an error (the check is not a verdict then).
import { Resolver } from 'node:dns/promises';

export interface DnsLookup {
  /** TXT records, each record's strings joined. */
  txt(name: string): Promise<string[]>;
  /** MX exchange hosts. */
  mx(name: string): Promise<string[]>;
  /** PTR names of an address. */
  ptr(ip: string): Promise<string[]>;
}

const NO_ANSWER = new Set(['ENOTFOUND', 'ENODATA', 'ENONAME', 'NXDOMAIN']);

async function answers<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (error) {
    if (NO_ANSWER.has((error as NodeJS.ErrnoException).code ?? '')) return [];
    throw error;
  }
}

/** `servers`: `host` or `host:port` entries (IPv4 or bracketed IPv6), as node's setServers reads them. */
export function dnsLookup(servers: readonly string[] = []): DnsLookup {
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  if (servers.length) resolver.setServers([...servers]);
  return {
    txt: async (name) => (await answers(resolver.resolveTxt(name))).map((chunks) => chunks.join('')),
    mx: async (name) => (await answers(resolver.resolveMx(name))).map((mx) => mx.exchange),
    ptr: (ip) => answers(resolver.reverse(ip)),
  };
}
