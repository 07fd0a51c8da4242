// Keeps connections that tenants aim (SMTP relays, webhook URLs, provider endpoints) away from
// this platform's own network: loopback, private and link-local ranges, cloud metadata, and the
// IPv6 forms that lead to them. The check runs on the addresses a name resolves to, inside the
// connection's own `lookup`, so a name that resolves to a public address when validated and to
// 127.0.0.1 when connecting (DNS rebinding) is refused too. An operator's allow-list lets named
// hosts and ranges through (an internal relay, a local test server).

import type { LookupAddress } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { type AgentOptions, type ClientRequestArgs, Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { type LookupFunction, connect as netConnect, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { z } from 'zod';
import { emptyToUndefined } from '../config.ts';
import { type AddressClass, type Cidr, classifyIp, embeddedIpv4, inCidr, parseCidr, parseIp } from './ip-address.ts';

export { type AddressClass, classifyAddress } from './ip-address.ts';

/** Resolves a host name to every address it has (dns.lookup with `all`, by default). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export interface OutboundPolicy {
  /** Host names (exact) and addresses or CIDR ranges connections may reach whatever they are. */
  allow?: readonly string[];
  resolve?: Resolver;
}

export class OutboundAddressError extends Error {
  readonly code = 'ERR_OUTBOUND_ADDRESS_REFUSED';
  constructor(
    readonly host: string,
    readonly address: string,
    readonly addressClass: AddressClass,
  ) {
    super(
      `${host === address ? address : `${host} (${address})`} is a ${addressClass} address, which outbound ` +
        'connections may not reach unless OUTBOUND_ALLOWED_HOSTS names it',
    );
    this.name = 'OutboundAddressError';
  }
}

export interface OutboundGuard {
  /**
   * Resolves `host` (an IP literal is only checked) and returns its addresses, or throws
   * OutboundAddressError when any of them is refused. A host that does not resolve throws the
   * resolver's error (ENOTFOUND).
   */
  assertPublicHost(host: string): Promise<LookupAddress[]>;
  /**
   * For `net.connect`, `tls.connect`, http(s) agents and undici's `connect.lookup`: the check
   * runs on the addresses the socket then connects to. Node does not call `lookup` for an IP
   * literal host: check those with assertPublicHost first.
   */
  lookup: LookupFunction;
  /**
   * `net.connect` (`tls.connect` when `secure`) through the guard, for clients that open their own
   * sockets: a name resolves through `lookup`, and an IP literal the guard refuses gives a socket
   * that fails with OutboundAddressError, as a refused connection would.
   */
  connect(options: ConnectionOptions & { host: string; port: number }, secure: boolean): Socket;
  /** HTTP and HTTPS agents (for SDKs that take one) whose every connection is checked as `connect`'s. */
  agents(options?: AgentOptions): { http: HttpAgent; https: HttpsAgent };
}

const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/** `a.example.com, 10.1.0.0/16 ::1` -> its entries; anything that is not an address or range is a host name. */
export function parseAllowList(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
}

const normalizeHost = (host: string) =>
  host
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();

export function outboundGuard(policy: OutboundPolicy = {}): OutboundGuard {
  const ranges: Cidr[] = [];
  const hosts = new Set<string>();
  for (const entry of policy.allow ?? []) {
    const range = parseCidr(entry);
    if (range) ranges.push(range);
    else hosts.add(normalizeHost(entry));
  }
  const resolve = policy.resolve ?? systemResolver;

  /** Why `address` may not be reached, or undefined when it may. */
  function refusal(address: string): AddressClass | undefined {
    const ip = parseIp(address);
    if (!ip) return 'reserved';
    const v4 = embeddedIpv4(ip);
    if (ranges.some((range) => inCidr(ip, range) || (v4 !== undefined && inCidr(v4, range)))) return undefined;
    const kind = classifyIp(ip);
    return kind === 'public' ? undefined : kind;
  }

  /** Why an IP literal host may not be reached; undefined for an allowed literal or a name. */
  function literalRefusal(rawHost: string | null | undefined): OutboundAddressError | undefined {
    const host = normalizeHost(rawHost ?? '');
    if (!parseIp(host)) return undefined;
    const refused = refusal(host);
    return refused && new OutboundAddressError(host, host, refused);
  }

  async function assertPublicHost(rawHost: string): Promise<LookupAddress[]> {
    const host = normalizeHost(rawHost);
    const literal = parseIp(host);
    const addresses = literal ? [{ address: host, family: literal.version }] : await resolve(host);
    if (hosts.has(host)) return addresses;
    for (const { address } of addresses) {
      const refused = refusal(address);
      if (refused) throw new OutboundAddressError(host, address, refused);
    }
    return addresses;
  }

  const lookup = ((hostname: string, options: unknown, callback?: unknown) => {
    const done = (typeof options === 'function' ? options : callback) as (
      error: NodeJS.ErrnoException | null,
      address?: string | LookupAddress[],
      family?: number,
    ) => void;
    const opts = (typeof options === 'object' && options !== null ? options : { family: options }) as {
      family?: number | string;
      all?: boolean;
    };
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family) || 0;
    assertPublicHost(hostname).then(
      (addresses) => {
        const usable = family ? addresses.filter((a) => a.family === family) : addresses;
        if (!usable.length)
          return done(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', hostname }));
        if (opts.all) done(null, usable);
        else done(null, usable[0]!.address, usable[0]!.family);
      },
      (error: NodeJS.ErrnoException) => done(error),
    );
  }) as LookupFunction;

  /**
   * Node connects to an IP literal without calling `lookup`, so literals are judged here, and a
   * refused one fails the way a refused connection does: an 'error' on the socket, a tick later.
   */
  function guarded<S extends Duplex>(host: string | null | undefined, open: () => S): S | Socket {
    const refused = literalRefusal(host);
    if (!refused) return open();
    const socket = new Socket();
    process.nextTick(() => socket.destroy(refused));
    return socket;
  }

  const connect: OutboundGuard['connect'] = (options, secure) =>
    guarded(options.host, () => (secure ? tlsConnect({ ...options, lookup }) : netConnect({ ...options, lookup })));

  function agents(options: AgentOptions = {}) {
    class GuardedHttpAgent extends HttpAgent {
      override createConnection(target: ClientRequestArgs, callback?: Parameters<HttpAgent['createConnection']>[1]) {
        return guarded(target.host, () => super.createConnection({ ...target, lookup }, callback)!);
      }
    }
    class GuardedHttpsAgent extends HttpsAgent {
      override createConnection(target: ClientRequestArgs, callback?: Parameters<HttpsAgent['createConnection']>[1]) {
        return guarded(target.host, () => super.createConnection({ ...target, lookup }, callback)!);
      }
    }
    return { http: new GuardedHttpAgent(options), https: new GuardedHttpsAgent(options) };
  }

  return { assertPublicHost, lookup, connect, agents };
}

/** Cluster mode's default: nothing private is reachable until an operator names it. */
export const outboundModel = (defaultAllowed = '') =>
  z.object({
    /**
     * Hosts (exact names) and addresses or CIDR ranges that tenant-configured connections may
     * reach although they are loopback, private, link-local or metadata addresses. Comma or space
     * separated.
     */
    OUTBOUND_ALLOWED_HOSTS: z
      .preprocess(emptyToUndefined, z.string().default(defaultAllowed))
      .transform((value, ctx) => {
        const entries = parseAllowList(value);
        for (const entry of entries)
          if (entry.includes('/') && !parseCidr(entry))
            ctx.addIssue({ code: 'custom', message: `not a CIDR range: ${entry}` });
        return entries;
      }),
  });

/** Embedded mode runs on a person's machine: its local servers (a test relay, a webhook receiver) are fine. */
export const EMBEDDED_OUTBOUND_ALLOWED = '127.0.0.0/8,::1';
