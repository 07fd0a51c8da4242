// What kind of network an IP address belongs to, for deciding whether an outbound connection may
// reach it. IPv6 forms that carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4)
// are judged by the IPv4 address they lead to.
import { isIPv4, isIPv6 } from 'node:net';

export type AddressClass =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'carrier-grade-nat'
  | 'unique-local'
  | 'multicast'
  | 'broadcast'
  | 'metadata'
  /** Documentation, benchmarking, "this network", future use, tunnels with no fixed endpoint. */
  | 'reserved';

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface Cidr extends IpAddress {
  prefix: number;
}

const bitsOf = (version: 4 | 6) => (version === 4 ? 32 : 128);

function parseV4(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function parseV6(text: string): bigint {
  let s = text;
  // A trailing dotted quad stands for the last two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseV4(dotted[1]!);
    s = `${s.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const left = groups(head);
  const right = groups(tail);
  const all = tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return all.reduce((acc, group) => (acc << 16n) | BigInt(Number.parseInt(group, 16)), 0n);
}

/** Parses an IPv4 or IPv6 address (brackets and an IPv6 zone are ignored); undefined if it is not one. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (isIPv4(bare)) return { version: 4, value: parseV4(bare) };
  if (isIPv6(bare)) return { version: 6, value: parseV6(bare) };
  return undefined;
}

/** Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (a single-address range). */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split('/');
  if (extra !== undefined || address === undefined) return undefined;
  const ip = parseIp(address);
  if (!ip) return undefined;
  const bits = bitsOf(ip.version);
  if (prefixText === undefined) return { ...ip, prefix: bits };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return undefined;
  return { ...ip, prefix: Number(prefixText) };
}

export function inCidr(ip: IpAddress, cidr: Cidr): boolean {
  if (ip.version !== cidr.version) return false;
  const shift = BigInt(bitsOf(ip.version) - cidr.prefix);
  return ip.value >> shift === cidr.value >> shift;
}

const cidr = (text: string) => parseCidr(text)!;

/** Most specific first: the first range that holds an address names its class. */
const V4_RANGES: [Cidr, AddressClass][] = [
  [cidr('0.0.0.0/32'), 'unspecified'],
  [cidr('255.255.255.255/32'), 'broadcast'],
  [cidr('169.254.169.254/32'), 'metadata'], // AWS, GCP, Azure, OpenStack instance metadata
  [cidr('100.100.100.200/32'), 'metadata'], // Alibaba Cloud
  [cidr('0.0.0.0/8'), 'reserved'],
  [cidr('10.0.0.0/8'), 'private'],
  [cidr('100.64.0.0/10'), 'carrier-grade-nat'],
  [cidr('127.0.0.0/8'), 'loopback'],
  [cidr('169.254.0.0/16'), 'link-local'],
  [cidr('172.16.0.0/12'), 'private'],
  [cidr('192.0.0.0/24'), 'reserved'],
  [cidr('192.0.2.0/24'), 'reserved'],
  [cidr('192.168.0.0/16'), 'private'],
  [cidr('198.18.0.0/15'), 'reserved'],
  [cidr('198.51.100.0/24'), 'reserved'],
  [cidr('203.0.113.0/24'), 'reserved'],
  [cidr('224.0.0.0/4'), 'multicast'],
  [cidr('240.0.0.0/4'), 'reserved'],
];

const V6_RANGES: [Cidr, AddressClass][] = [
  [cidr('::/128'), 'unspecified'],
  [cidr('::1/128'), 'loopback'],
  [cidr('fd00:ec2::254/128'), 'metadata'], // AWS instance metadata over IPv6
  [cidr('::/8'), 'reserved'],
  [cidr('64:ff9b:1::/48'), 'reserved'], // local-use NAT64: leads into the local network
  [cidr('100::/64'), 'reserved'],
  [cidr('2001::/32'), 'reserved'], // Teredo
  [cidr('2001:db8::/32'), 'reserved'],
  [cidr('3fff::/20'), 'reserved'],
  [cidr('fc00::/7'), 'unique-local'],
  [cidr('fe80::/10'), 'link-local'],
  [cidr('fec0::/10'), 'reserved'], // site-local, deprecated
  [cidr('ff00::/8'), 'multicast'],
];

/** IPv6 prefixes whose low 32 bits are an IPv4 address the packet ends up at. */
const EMBEDS_V4_LOW: Cidr[] = [
  cidr('::ffff:0:0/96'), // IPv4-mapped
  cidr('::ffff:0:0:0/96'), // IPv4-translated (SIIT)
  cidr('64:ff9b::/96'), // NAT64 well-known prefix
  cidr('::/96'), // IPv4-compatible, deprecated
];
const SIX_TO_FOUR = cidr('2002::/16');

/** The IPv4 address an IPv6 address leads to, if it embeds one. */
export function embeddedIpv4(ip: IpAddress): IpAddress | undefined {
  if (ip.version !== 6) return undefined;
  // :: and ::1 sit inside ::/96 but are IPv6's own unspecified and loopback addresses.
  if (ip.value <= 1n) return undefined;
  if (EMBEDS_V4_LOW.some((range) => inCidr(ip, range))) return { version: 4, value: ip.value & 0xffffffffn };
  if (inCidr(ip, SIX_TO_FOUR)) return { version: 4, value: (ip.value >> 80n) & 0xffffffffn };
  return undefined;
}

export function classifyIp(ip: IpAddress): AddressClass {
  const v4 = embeddedIpv4(ip);
  if (v4) return classifyIp(v4);
  for (const [range, kind] of ip.version === 4 ? V4_RANGES : V6_RANGES) if (inCidr(ip, range)) return kind;
  return 'public';
}

/** The class of an address given as text; undefined when the text is not an IP address. */
export function classifyAddress(text: string): AddressClass | undefined {
  const ip = parseIp(text);
  return ip && classifyIp(ip);
}
