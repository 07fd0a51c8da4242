// Publishes test zones on the real authoritative DNS server that scripts/services.sh runs (NSD on
// 127.0.0.1:5300): writes the zone file, adds or reloads the zone with nsd-control, and waits
// until the server answers with the new serial.
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { DnsRecord } from '../src/domain/sending-domain.ts';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** host:port of the test DNS server (DNS_TEST_SERVER, from `scripts/services.sh env`). */
export const DNS_SERVER = process.env.DNS_TEST_SERVER ?? '127.0.0.1:5300';
const CONTROL = process.env.DNS_TEST_CONTROL ?? join(ROOT, '.services/dns/nsd.conf');

/** A resolver that asks only the test server. */
export function testResolver(): Resolver {
  const resolver = new Resolver({ timeout: 2000, tries: 2 });
  resolver.setServers([DNS_SERVER]);
  return resolver;
}

let lastSerial = 0;

/** TXT strings are at most 255 bytes each; a longer value (an RSA key) is several strings. */
const quoted = (value: string) =>
  (value.match(/.{1,255}/g) ?? ['']).map((s) => `"${s.replace(/"/g, '\\"')}"`).join(' ');

export async function publishZone(zone: string, records: readonly Pick<DnsRecord, 'type' | 'name' | 'value'>[]) {
  const serial = Math.max(lastSerial + 1, Math.floor(Date.now() / 1000) % 4_000_000_000);
  lastSerial = serial;
  const lines = [
    `$ORIGIN ${zone}.`,
    `@ 60 IN SOA ns.mauntic.test. hostmaster.mauntic.test. ${serial} 3600 600 86400 60`,
    '@ 60 IN NS ns.mauntic.test.',
    ...records.map((r) => {
      const value = r.type === 'TXT' ? quoted(r.value) : `${r.value}.`; // MX `10 host`, PTR `host`
      return `${r.name}. 60 IN ${r.type} ${value}`;
    }),
  ];
  const config = readFileSync(CONTROL, 'utf8');
  const zonesDir = /zonesdir: "([^"]+)"/.exec(config)?.[1];
  if (!zonesDir) throw new Error(`no zonesdir in ${CONTROL}`);
  const file = join(zonesDir, `${zone}.zone`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  // NSD reloads a zone file only when its modification time (in seconds) moved: the serial, which
  // grows by at least one per publish, is the file's time.
  utimesSync(file, serial, serial);
  // addzone answers without an error for a zone it already has (and then keeps the old data): reload always.
  await run('nsd-control', ['-c', CONTROL, 'addzone', zone, 'mauntic']);
  await run('nsd-control', ['-c', CONTROL, 'reload', zone]);
  const resolver = testResolver();
  for (let i = 0; i < 100; i++) {
    const soa = await resolver.resolveSoa(zone).catch(() => null);
    if (soa?.serial === serial) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the DNS server did not load ${zone} serial ${serial}`);
}
