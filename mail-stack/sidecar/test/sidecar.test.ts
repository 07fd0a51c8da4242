// The sidecar beside a real Postfix instance (the mail stack's 127.0.0.3, started by
// scripts/services.sh): health from the running master, queue sizes from the queue folder,
// delivery counters from the mail log by outcome and provider group, a reload that Postfix logs.
// Mail to <name>.sidecar.mauntic.test goes to the SMTP server below, which takes ok.*, asks
// later.* to try again (451) and refuses gone.* (550).
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '@mauntic/platform/testing';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followLog, parseLogLine, providerGroup } from '../src/deliveries.ts';
import { type Sidecar, startSidecar } from '../src/sidecar.ts';

const INSTANCE = (process.env.MAIL_STACK_INSTANCES ?? '127.0.0.2:2526=a,127.0.0.3:2526=b').split(',')[1]!;
const [IP, PORT] = INSTANCE.split('=')[0]!.split(':') as [string, string];
const QUEUE_DIR = `/var/spool/postfix-mauntic-${IP}`;
const LOG = `/var/log/postfix-mauntic-${IP}.log`;
const CONFIG = `/etc/postfix-mauntic-${IP}`;
const RECEIVER_PORT = Number(process.env.MAIL_STACK_SIDECAR_OBSERVE_PORT ?? 2531);
const TOKEN = 'r'.repeat(40);

/** A sample's value in Prometheus text, or 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf('}'));
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.split(' ').pop());
  }
  return 0;
}

describe('the mail sidecar beside a Postfix instance', () => {
  let sidecar: Sidecar;
  let receiver: SMTPServer;
  const base = () => `http://127.0.0.1:${sidecar.port}`;

  beforeAll(async () => {
    receiver = new SMTPServer({
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        const domain = address.address.split('@')[1];
        if (domain === 'later.sidecar.mauntic.test') {
          return callback(Object.assign(new Error('4.2.0 Try again later'), { responseCode: 451 }));
        }
        if (domain === 'gone.sidecar.mauntic.test') {
          return callback(Object.assign(new Error('5.1.1 No such user'), { responseCode: 550 }));
        }
        callback();
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    await new Promise<void>((resolve) => receiver.listen(RECEIVER_PORT, '127.0.0.1', resolve));
    sidecar = await startSidecar({
      queueDir: QUEUE_DIR,
      logFile: LOG,
      sendingIp: IP,
      reloadToken: TOKEN,
      host: '127.0.0.1',
      port: 0,
      pollMs: 100,
    });
  });
  afterAll(async () => {
    // What this suite left deferred would be tried for days.
    execFileSync('postsuper', ['-c', CONFIG, '-d', 'ALL', 'deferred'], { stdio: 'ignore' });
    await sidecar?.close();
    await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
  });

  it('is healthy while the master runs, and not for a queue folder no master runs in', async () => {
    const healthy = await fetch(`${base()}/healthz`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toEqual({ master: 'running' });
    const idle = await startSidecar({ queueDir: mkdtempSync(join(tmpdir(), 'queue-')), host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`http://127.0.0.1:${idle.port}/healthz`)).status).toBe(503);
    } finally {
      await idle.close();
    }
  });

  it('counts what the instance sent, deferred and bounced, and shows the deferred message in its queue', async () => {
    const before = await (await fetch(`${base()}/metrics`)).text();
    const transport = nodemailer.createTransport({ host: IP, port: Number(PORT), secure: false, ignoreTLS: true });
    const send = (to: string) =>
      transport.sendMail({ from: 'shop@example.com', to, subject: 'Hello', text: 'Hello there' });
    await send('a@ok.sidecar.mauntic.test');
    await send('b@ok.sidecar.mauntic.test');
    await send('c@later.sidecar.mauntic.test');
    await send('d@gone.sidecar.mauntic.test');
    transport.close();

    const delta = (text: string, outcome: string) =>
      sample(text, 'mauntic_postfix_deliveries_total', { outcome, group: 'other', sending_ip: IP }) -
      sample(before, 'mauntic_postfix_deliveries_total', { outcome, group: 'other', sending_ip: IP });
    const after = await eventually('the three outcomes counted', async () => {
      const text = await (await fetch(`${base()}/metrics`)).text();
      return delta(text, 'sent') >= 2 && delta(text, 'deferred') >= 1 && delta(text, 'bounced') >= 1 ? text : undefined;
    });
    expect(sample(after, 'mauntic_postfix_up', { sending_ip: IP })).toBe(1);
    const queue = (await (await fetch(`${base()}/queue`)).json()) as { deferred: number };
    expect(queue.deferred).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'mauntic_postfix_queue_messages', { queue: 'deferred' })).toBe(queue.deferred);
  });

  it('reloads the instance with the token only', async () => {
    expect((await fetch(`${base()}/reload`, { method: 'POST' })).status).toBe(403);
    const wrong = await fetch(`${base()}/reload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${'x'.repeat(40)}` },
    });
    expect(wrong.status).toBe(403);
    const logged = () =>
      readFileSync(LOG, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`reload -- version`)).length;
    const reloadsBefore = logged();
    const ok = await fetch(`${base()}/reload`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.status).toBe(202);
    await eventually('Postfix logs the reload', async () => (logged() > reloadsBefore ? true : undefined));
    expect((await fetch(`${base()}/healthz`)).status).toBe(200);
  });

  it('reads Postfix log lines by transport, outcome and provider group', () => {
    expect(
      parseLogLine(
        'Dec 07 18:10:39 mta2 postfix/smtp[29091]: 953AFE01B5: to=<a@hotmail.com>, relay=mx[1.2.3.4]:25, delay=0.12, dsn=2.0.0, status=sent (250 ok)',
      ),
    ).toEqual({ transport: 'smtp', group: 'microsoft', outcome: 'sent' });
    expect(
      parseLogLine(
        'Dec 07 18:10:40 mta2 postfix/lmtp[29101]: B2151E01BE: to=<bounces+x@bounces.a.test>, relay=127.0.0.1[127.0.0.1]:2530, dsn=2.0.0, status=sent (250 Report accepted)',
      ),
    ).toEqual({ transport: 'lmtp', group: 'other', outcome: 'sent' });
    expect(parseLogLine('Dec 07 18:10:40 mta2 postfix/qmgr[1]: B2151E01BE: removed')).toBeNull();
    expect(
      ['x@gmail.com', 'x@googlemail.com', 'x@ymail.com', 'x@live.co.uk', 'x@example.com'].map(providerGroup),
    ).toEqual(['gmail', 'gmail', 'yahoo', 'microsoft', 'other']);
  });
});

describe('following a log the sidecar may empty', () => {
  it('hands over whole lines once each, and starts again from the top of a file it emptied', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'maillog-')), 'maillog');
    writeFileSync(path, 'old line\n');
    const seen: string[] = [];
    const log = followLog(path, (line) => seen.push(line), 30);
    await log.poll(); // starts at the end: the old line is not counted
    appendFileSync(path, 'first line\nsecond li');
    await log.poll();
    expect(seen).toEqual(['first line']);
    appendFileSync(path, 'ne\n');
    await log.poll();
    expect(seen).toEqual(['first line', 'second line']);
    expect(statSync(path).size).toBe(0); // read past 30 bytes: emptied
    appendFileSync(path, 'third line\n');
    await log.poll();
    expect(seen).toEqual(['first line', 'second line', 'third line']);
  });
});
