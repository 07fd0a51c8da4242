import { execFileSync } from 'node:child_process';
import type { LookupAddress } from 'node:dns';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get, type RequestOptions } from 'node:http';
import { get as httpsGet } from 'node:https';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnvironment } from '../config.ts';
import { type AddressClass, classifyAddress } from './ip-address.ts';
import {
  EMBEDDED_OUTBOUND_ALLOWED,
  OutboundAddressError,
  outboundGuard,
  outboundModel,
  parseAllowList,
  type Resolver,
} from './outbound-guard.ts';

const CLASSES: Record<Exclude<AddressClass, 'public'>, string[]> = {
  unspecified: ['0.0.0.0', '::', '::ffff:0.0.0.0'],
  loopback: ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '[::1]'],
  private: ['10.0.0.1', '172.16.5.4', '172.31.255.255', '192.168.1.1', '::ffff:10.1.2.3', '::ffff:192.168.0.1'],
  'link-local': ['169.254.1.1', 'fe80::1', 'fe80::1%eth0', 'febf::1', '::ffff:169.254.0.1'],
  'carrier-grade-nat': ['100.64.0.1', '100.127.255.254'],
  'unique-local': ['fc00::1', 'fd12:3456::1'],
  multicast: ['224.0.0.1', '239.255.255.250', 'ff02::1'],
  broadcast: ['255.255.255.255'],
  metadata: ['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe'],
  reserved: [
    '0.1.2.3',
    '192.0.2.1',
    '198.51.100.7',
    '203.0.113.9',
    '198.18.0.1',
    '240.0.0.1',
    '2001:db8::1',
    '2001::1',
  ],
};

describe('address classes', () => {
  for (const [kind, addresses] of Object.entries(CLASSES)) {
    it(`${kind}: ${addresses.join(', ')}`, () => {
      for (const address of addresses) expect(classifyAddress(address), address).toBe(kind);
    });
  }

  it('IPv6 forms that lead to an IPv4 address are judged by that address', () => {
    // NAT64 (well-known prefix), 6to4, IPv4-compatible and IPv4-translated forms of 127.0.0.1 ...
    for (const loopback of [
      '64:ff9b::7f00:1',
      '64:ff9b::127.0.0.1',
      '2002:7f00:1::1',
      '::127.0.0.1',
      '::ffff:0:7f00:1',
    ])
      expect(classifyAddress(loopback), loopback).toBe('loopback');
    expect(classifyAddress('64:ff9b::a00:1')).toBe('private');
    expect(classifyAddress('2002:c0a8:101::')).toBe('private');
    // ... and of a public one.
    expect(classifyAddress('64:ff9b::808:808')).toBe('public');
    expect(classifyAddress('::ffff:8.8.8.8')).toBe('public');
    // The local-use NAT64 prefix leads into the local network whatever it embeds.
    expect(classifyAddress('64:ff9b:1::808:808')).toBe('reserved');
  });

  it('public addresses are public; names are not addresses', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '2a00:1450::1'])
      expect(classifyAddress(address), address).toBe('public');
    expect(classifyAddress('example.com')).toBeUndefined();
    expect(classifyAddress('127.1')).toBeUndefined();
  });
});

/** A resolver of the test's own: the names it knows, like lines in /etc/hosts for this process only. */
function hostsFile(entries: Record<string, string[] | (() => string[])>): Resolver {
  return async (host) => {
    const entry = entries[host];
    if (!entry) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return (typeof entry === 'function' ? entry() : entry).map(
      (address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 }),
    );
  };
}

const refusedWith = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OutboundAddressError);
  return error as OutboundAddressError;
};

describe('outboundGuard.assertPublicHost', () => {
  it('refuses an IP literal of every non-public class, in any notation, without resolving it', async () => {
    const guard = outboundGuard({ resolve: () => Promise.reject(new Error('no lookup for a literal')) });
    for (const addresses of Object.values(CLASSES))
      for (const address of addresses) await refusedWith(guard.assertPublicHost(address));
    expect(await guard.assertPublicHost('8.8.8.8')).toEqual([{ address: '8.8.8.8', family: 4 }]);
    expect(await guard.assertPublicHost('[2606:4700:4700::1111]')).toEqual([
      { address: '2606:4700:4700::1111', family: 6 },
    ]);
  });

  it('refuses localhost as the system resolver answers it (127.0.0.1 / ::1)', async () => {
    const refused = await refusedWith(outboundGuard().assertPublicHost('localhost'));
    expect(refused.addressClass).toBe('loopback');
    expect(refused.message).toMatch(/^localhost \((127\.0\.0\.1|::1)\) is a loopback address/);
  });

  it('refuses the old IPv4 spellings the resolver turns into 127.0.0.1', async () => {
    for (const spelling of ['127.1', '2130706433', '0x7f.0.0.1', '0177.0.0.1'])
      expect((await refusedWith(outboundGuard().assertPublicHost(spelling))).address, spelling).toBe('127.0.0.1');
  });

  it('refuses a name when any of its addresses is not public', async () => {
    const guard = outboundGuard({
      resolve: hostsFile({
        'public.test': ['93.184.216.34', '2606:2800:220:1::1'],
        'mixed.test': ['93.184.216.34', '10.0.0.7'],
        'metadata.test': ['169.254.169.254'],
        'mapped.test': ['::ffff:127.0.0.1'],
      }),
    });
    expect((await guard.assertPublicHost('Public.Test.')).map((a) => a.address)).toEqual([
      '93.184.216.34',
      '2606:2800:220:1::1',
    ]);
    expect((await refusedWith(guard.assertPublicHost('mixed.test'))).address).toBe('10.0.0.7');
    expect((await refusedWith(guard.assertPublicHost('metadata.test'))).addressClass).toBe('metadata');
    expect((await refusedWith(guard.assertPublicHost('mapped.test'))).addressClass).toBe('loopback');
    await expect(guard.assertPublicHost('nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('lets through exactly the hosts and ranges the allow-list names', async () => {
    const guard = outboundGuard({
      allow: parseAllowList('relay.internal, 10.20.0.0/16 fd00:1::/32,192.168.7.7'),
      resolve: hostsFile({
        'relay.internal': ['10.99.0.1'],
        'sub.relay.internal': ['10.99.0.1'],
        'in-range.test': ['10.20.3.4', '::ffff:10.20.9.9'],
        'v6.test': ['fd00:1::5'],
      }),
    });
    expect(await guard.assertPublicHost('relay.internal')).toEqual([{ address: '10.99.0.1', family: 4 }]);
    expect(await guard.assertPublicHost('in-range.test')).toHaveLength(2);
    expect(await guard.assertPublicHost('v6.test')).toHaveLength(1);
    expect(await guard.assertPublicHost('192.168.7.7')).toHaveLength(1);
    // Only the exact name: neither its subdomains nor the address it resolves to.
    await refusedWith(guard.assertPublicHost('sub.relay.internal'));
    await refusedWith(guard.assertPublicHost('10.99.0.1'));
    await refusedWith(guard.assertPublicHost('10.21.0.1'));
    await refusedWith(guard.assertPublicHost('192.168.7.8'));
  });

  it("embedded mode's default allows loopback and nothing else private", async () => {
    const guard = outboundGuard({ allow: parseAllowList(EMBEDDED_OUTBOUND_ALLOWED) });
    for (const loopback of ['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1', 'localhost'])
      expect(await guard.assertPublicHost(loopback), loopback).not.toHaveLength(0);
    for (const other of ['169.254.169.254', '10.0.0.1', 'fd00:ec2::254', '0.0.0.0', '::'])
      await refusedWith(guard.assertPublicHost(other));
  });
});

describe('outboundGuard.lookup on real connections', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((socket) => socket.end('hello\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A name that resolves to a public address when validated and to loopback afterwards. */
  function rebinding() {
    let calls = 0;
    return hostsFile({ 'rebind.test': () => (calls++ === 0 ? ['93.184.216.34'] : ['127.0.0.1']) });
  }

  const connectThrough = (lookup: ReturnType<typeof outboundGuard>['lookup'], host: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect({ host, port, lookup });
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });

  it('a name rebound to 127.0.0.1 after validation is refused where the socket connects', async () => {
    const guard = outboundGuard({ resolve: rebinding() });
    expect(await guard.assertPublicHost('rebind.test')).toEqual([{ address: '93.184.216.34', family: 4 }]);
    const refused = await refusedWith(connectThrough(guard.lookup, 'rebind.test'));
    expect(refused).toMatchObject({ host: 'rebind.test', address: '127.0.0.1', code: 'ERR_OUTBOUND_ADDRESS_REFUSED' });
  });

  it('an http request through the lookup is refused the same way; an allowed host connects', async () => {
    const guard = outboundGuard({ resolve: rebinding() });
    await guard.assertPublicHost('rebind.test');
    const refused = await new Promise<unknown>((resolve) => {
      get({ host: 'rebind.test', port, lookup: guard.lookup }, () => resolve(undefined)).on('error', resolve);
    });
    expect(refused).toBeInstanceOf(OutboundAddressError);

    const allowed = outboundGuard({ allow: ['rebind.test'], resolve: hostsFile({ 'rebind.test': ['127.0.0.1'] }) });
    expect(await connectThrough(allowed.lookup, 'rebind.test')).toBe('hello\n');
    const loopback = outboundGuard({ allow: parseAllowList(EMBEDDED_OUTBOUND_ALLOWED) });
    expect(await connectThrough(loopback.lookup, 'localhost')).toBe('hello\n');
  });

  it('answers single-address, all-address and per-family lookups as dns.lookup does', async () => {
    const guard = outboundGuard({ resolve: hostsFile({ 'both.test': ['93.184.216.34', '2606:2800:220:1::1'] }) });
    const ask = (options: object) =>
      new Promise<unknown[]>((resolve, reject) =>
        guard.lookup('both.test', options as never, (error, address, family) =>
          error ? reject(error) : resolve([address, family]),
        ),
      );
    expect(await ask({})).toEqual(['93.184.216.34', 4]);
    expect(await ask({ family: 6 })).toEqual(['2606:2800:220:1::1', 6]);
    expect(await ask({ all: true, family: 'IPv4' })).toEqual([[{ address: '93.184.216.34', family: 4 }], undefined]);
    const v6only = outboundGuard({ resolve: hostsFile({ 'v6.test': ['2606:2800:220:1::1'] }) });
    await expect(
      new Promise((resolve, reject) =>
        v6only.lookup('v6.test', { family: 4 }, (error, address) => (error ? reject(error) : resolve(address))),
      ),
    ).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

/** A self-signed certificate for `name`, made with openssl. */
function certificate(name: string): { key: string; cert: string } {
  const dir = mkdtempSync(join(tmpdir(), 'guard-cert-'));
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`],
      ...['-addext', `subjectAltName=DNS:${name}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
    ],
    { stdio: 'pipe' },
  );
  return { key: readFileSync(join(dir, 'key.pem'), 'utf8'), cert: readFileSync(join(dir, 'cert.pem'), 'utf8') };
}

describe('outboundGuard.connect and agents, for clients that open their own connections', () => {
  let plain: Server;
  let secure: TlsServer;
  let plainPort: number;
  let securePort: number;
  const tls = certificate('relay.test');
  const http = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok';
  beforeAll(async () => {
    plain = createServer((socket) => socket.once('data', () => socket.end(http)));
    secure = createTlsServer(tls, (socket) => socket.once('data', () => socket.end(http)));
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
    plainPort = (plain.address() as AddressInfo).port;
    securePort = (secure.address() as AddressInfo).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => plain.close(() => resolve()));
    await new Promise<void>((resolve) => secure.close(() => resolve()));
  });

  const opened = (socket: Socket, event = 'connect') =>
    new Promise<void>((resolve, reject) => {
      socket.once(event, () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });

  const status = (send: typeof get, options: RequestOptions & { ca?: string }) =>
    new Promise<number | undefined>((resolve, reject) => {
      send(options, (response) => {
        response.resume();
        resolve(response.statusCode);
      }).on('error', reject);
    });

  it('connect refuses a refused IP literal (Node does not look literals up) and a name resolving to one', async () => {
    const guard = outboundGuard({ resolve: hostsFile({ 'relay.test': ['127.0.0.1'] }) });
    for (const host of ['127.0.0.1', '::ffff:127.0.0.1', 'relay.test'])
      expect(await refusedWith(opened(guard.connect({ host, port: plainPort }, false))), host).toMatchObject({
        addressClass: 'loopback',
      });
    await refusedWith(opened(guard.connect({ host: 'relay.test', port: securePort }, true), 'secureConnect'));
  });

  it('connect reaches what the allow-list names, over TLS checked against the name it was given', async () => {
    const byName = outboundGuard({ allow: ['relay.test'], resolve: hostsFile({ 'relay.test': ['127.0.0.1'] }) });
    await opened(byName.connect({ host: 'relay.test', port: securePort, ca: tls.cert }, true), 'secureConnect');
    const byRange = outboundGuard({ allow: ['127.0.0.0/8'] });
    await opened(byRange.connect({ host: '127.0.0.1', port: plainPort }, false));
  });

  it("agents refuse refused literals and names in http and https requests, and let the allow-list's hosts through", async () => {
    const refusing = outboundGuard({ resolve: hostsFile({ 'relay.test': ['127.0.0.1'] }) }).agents();
    await refusedWith(status(get, { host: '127.0.0.1', port: plainPort, agent: refusing.http }));
    await refusedWith(status(get, { host: 'relay.test', port: plainPort, agent: refusing.http }));
    await refusedWith(status(httpsGet, { host: '127.0.0.1', port: securePort, agent: refusing.https }));
    await refusedWith(status(httpsGet, { host: 'relay.test', port: securePort, agent: refusing.https }));

    const allowing = outboundGuard({
      allow: ['relay.test', '127.0.0.1'],
      resolve: hostsFile({ 'relay.test': ['127.0.0.1'] }),
    }).agents({ keepAlive: true });
    expect(await status(get, { host: '127.0.0.1', port: plainPort, agent: allowing.http })).toBe(200);
    expect(await status(get, { host: 'relay.test', port: plainPort, agent: allowing.http })).toBe(200);
    // The certificate is checked against the name, although the connection went to 127.0.0.1.
    expect(await status(httpsGet, { host: 'relay.test', port: securePort, agent: allowing.https, ca: tls.cert })).toBe(
      200,
    );
    allowing.http.destroy();
    allowing.https.destroy();
  });
});

describe('OUTBOUND_ALLOWED_HOSTS', () => {
  const parse = (env: Record<string, string>, fallback?: string) =>
    parseEnvironment({ outbound: outboundModel(fallback) }, env).outbound.OUTBOUND_ALLOWED_HOSTS;

  it('is empty unless set, and lists hosts and ranges', () => {
    expect(parse({})).toEqual([]);
    expect(parse({ OUTBOUND_ALLOWED_HOSTS: '' })).toEqual([]);
    expect(parse({}, EMBEDDED_OUTBOUND_ALLOWED)).toEqual(['127.0.0.0/8', '::1']);
    expect(parse({ OUTBOUND_ALLOWED_HOSTS: 'Relay.Internal, 10.0.0.0/8' }, EMBEDDED_OUTBOUND_ALLOWED)).toEqual([
      'relay.internal',
      '10.0.0.0/8',
    ]);
  });

  it('reports a malformed range', () => {
    expect(() => parse({ OUTBOUND_ALLOWED_HOSTS: '10.0.0.0/33,fd00::/200' })).toThrow(
      /not a CIDR range: 10\.0\.0\.0\/33[\s\S]*not a CIDR range: fd00::\/200/,
    );
  });
});
