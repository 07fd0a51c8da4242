// A sending domain's DNS records: what to publish for SPF, DKIM, DMARC, the return path (VERP
// bounces) and the sending addresses' PTR names, and whether what DNS answers matches. No I/O:
// the app layer resolves the names and hands the answers here.

export type RecordKind = 'dkim' | 'spf' | 'dmarc' | 'return_path' | 'ptr';

export interface DnsRecord {
  kind: RecordKind;
  type: 'TXT' | 'MX' | 'PTR';
  /** Fully qualified, no trailing dot. */
  name: string;
  value: string;
  /** DKIM: the key's selector. */
  selector?: string;
}

export interface RecordCheck {
  kind: RecordKind;
  name: string;
  ok: boolean;
  /** What DNS answered (joined TXT strings, MX hosts, PTR names); empty when nothing. */
  found: string[];
  selector?: string;
  /** Why nothing was found when the resolver failed (timeout, refused) rather than answering. */
  error?: string;
}

/** The platform's side of every domain's records (DELIVERY_SENDING_IPS, DELIVERY_BOUNCE_HOST). */
export interface MailPlatform {
  /** The addresses mail leaves from, each with its PTR name. */
  sendingIps: { ip: string; hostname: string }[];
  /** The host that receives bounces (the return path domain's MX). */
  bounceHost: string;
}

export interface PublishedKey {
  selector: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
  publicKey: string;
}

export const DOMAIN_PATTERN = /^(?=.{1,253}$)(?!-)([a-z0-9-]{1,63}(?<!-)\.)+[a-z][a-z0-9-]{0,62}(?<!-)$/;

export const returnPathDomainOf = (domain: string) => `bounces.${domain}`;

/** The VERP return path of a message: bounces to it name the message even when they quote nothing. */
export const verpAddress = (messageId: string, returnPathDomain: string) => `bounces+${messageId}@${returnPathDomain}`;

export const dkimRecordValue = (key: Pick<PublishedKey, 'algorithm' | 'publicKey'>) =>
  `v=DKIM1; k=${key.algorithm === 'rsa-sha256' ? 'rsa' : 'ed25519'}; p=${key.publicKey}`;

export function spfValue(platform: MailPlatform): string {
  return ['v=spf1', ...platform.sendingIps.map((s) => `${s.ip.includes(':') ? 'ip6' : 'ip4'}:${s.ip}`), '-all'].join(
    ' ',
  );
}

/** `2.0.0.127.in-addr.arpa` for 127.0.0.2 (IPv4 only). */
export const reverseName = (ip: string) => `${ip.split('.').reverse().join('.')}.in-addr.arpa`;

export function recordsToPublish(
  domain: { domain: string; returnPathDomain: string },
  keys: readonly PublishedKey[],
  platform: MailPlatform,
): DnsRecord[] {
  return [
    ...keys.map(
      (key): DnsRecord => ({
        kind: 'dkim',
        type: 'TXT',
        name: `${key.selector}._domainkey.${domain.domain}`,
        value: dkimRecordValue(key),
        selector: key.selector,
      }),
    ),
    { kind: 'spf', type: 'TXT', name: domain.returnPathDomain, value: spfValue(platform) },
    { kind: 'return_path', type: 'MX', name: domain.returnPathDomain, value: `10 ${platform.bounceHost}` },
    {
      kind: 'dmarc',
      type: 'TXT',
      name: `_dmarc.${domain.domain}`,
      value: `v=DMARC1; p=quarantine; adkim=r; aspf=r; rua=mailto:dmarc@${domain.domain}`,
    },
    ...platform.sendingIps
      .filter((s) => !s.ip.includes(':'))
      .map((s): DnsRecord => ({ kind: 'ptr', type: 'PTR', name: reverseName(s.ip), value: s.hostname })),
  ];
}

const noSpace = (value: string) => value.replace(/\s+/g, '');
const hostEq = (a: string, b: string) => a.replace(/\.$/, '').toLowerCase() === b.replace(/\.$/, '').toLowerCase();

/**
 * Whether DNS's answer for a record matches: the DKIM key's p=, an SPF policy that names every
 * sending address, a DMARC policy, the MX to the bounce host, the PTR name.
 */
export function recordMatches(record: DnsRecord, found: readonly string[], platform: MailPlatform): boolean {
  switch (record.kind) {
    case 'dkim': {
      const p = record.value.slice(record.value.indexOf('p=') + 2);
      return found.some((txt) => /^v=DKIM1;/i.test(noSpace(txt)) && noSpace(txt).split(';').includes(`p=${p}`));
    }
    case 'spf': {
      const spf = found.filter((txt) => /^v=spf1(\s|$)/i.test(txt));
      if (spf.length !== 1) return false; // none, or several (a permerror for receivers)
      const terms = spf[0]!.toLowerCase().split(/\s+/);
      return platform.sendingIps.every((s) =>
        terms.some((t) => t.replace(/^\+/, '') === `ip4:${s.ip}` || t === `ip6:${s.ip}`),
      );
    }
    case 'dmarc':
      return found.filter((txt) => /^v=DMARC1\s*(;|$)/i.test(txt)).length === 1;
    case 'return_path':
      return found.some((mx) => hostEq(mx, platform.bounceHost));
    case 'ptr':
      return found.some((name) => hostEq(name, record.value));
  }
}

/** Verified: every record matches (DKIM only for the keys that sign, pending ones do not hold it up). */
export const allPass = (checks: readonly RecordCheck[], signingSelectors: ReadonlySet<string>) =>
  checks.every((c) => c.ok || (c.kind === 'dkim' && !signingSelectors.has(c.selector ?? '')));
