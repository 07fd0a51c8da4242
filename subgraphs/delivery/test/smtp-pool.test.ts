// What reaches an SMTP server through the pool is the message as written, byte for byte, whether
// it took the pass-through path (canonical, no leading dots) or the escaping one; a pipelining
// server gets a second message's envelope in the same write as the first one's body.

import type { AddressInfo } from 'node:net';
import { createServer, type Server, connect as tcpConnect } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildRawMessage } from '../src/providers/index.ts';
import { SmtpPool } from '../src/providers/smtp-pool.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';

const message = (html: string, text: string) =>
  buildRawMessage({
    messageId: '01a217f5-c397-7788-bb57-4906166c7a0f',
    from: { address: 'shop@shop.example.com' },
    to: 'ada@example.com',
    subject: 'Hi',
    html,
    text,
    headers: {},
  });

describe('the SMTP pool', () => {
  let server: SmtpFake;
  let pool: SmtpPool;
  beforeAll(async () => {
    server = await startSmtpFake();
    pool = new SmtpPool({
      host: '127.0.0.1',
      port: server.port,
      secure: false,
      requireTls: false,
      maxConnections: 2,
      maxMessages: 100,
      timeoutMs: 5000,
      allowSelfSigned: false,
    });
  });
  beforeEach(() => server.reset());
  afterAll(async () => {
    await pool.close();
    await server.close();
  });

  it('delivers canonical messages byte for byte, and reports the hand-over before the reply', async () => {
    const raw = message('<p>plain</p>\n<p>lines</p>', 'plain\nlines');
    const events: string[] = [];
    const sent = pool.send({ from: 'shop@shop.example.com', to: ['ada@example.com'] }, raw, () =>
      events.push('handed'),
    );
    await sent.then(() => events.push('accepted'));
    expect(events).toEqual(['handed', 'accepted']);
    expect(server.messages[0]!.raw.equals(raw)).toBe(true);
  });

  it('escapes lines that start with a dot, and the server gets them back as written', async () => {
    const raw = message('<p>x</p>\n.hidden\n..two', '.\nsecond\n.third');
    await pool.send({ from: 'shop@shop.example.com', to: ['ada@example.com'] }, raw);
    expect(server.messages[0]!.raw.equals(raw)).toBe(true);
  });

  it('makes every line break of a body CRLF', () => {
    const text = message('a\rb\nc\r\nd', 'x').toString('utf8');
    expect(text).toContain('a\r\nb\r\nc\r\nd');
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });
});

/** A TCP relay in front of the fake that records what the client sent, chunk by chunk. */
async function recordingRelay(port: number): Promise<{ port: number; chunks: string[]; close(): Promise<void> }> {
  const chunks: string[] = [];
  const server: Server = createServer((client) => {
    const upstream = tcpConnect(port, '127.0.0.1');
    client.on('data', (chunk) => {
      chunks.push(chunk.toString('latin1'));
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    chunks,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const poolOn = (port: number, maxConnections = 1) =>
  new SmtpPool({
    host: '127.0.0.1',
    port,
    secure: false,
    requireTls: false,
    maxConnections,
    maxMessages: 100,
    timeoutMs: 5000,
    allowSelfSigned: false,
  });

const to = (address: string) => ({ from: 'shop@shop.example.com', to: [address] });

describe('pipelining (RFC 2920)', () => {
  let server: SmtpFake;
  beforeAll(async () => {
    server = await startSmtpFake();
  });
  beforeEach(() => server.reset());
  afterAll(() => server.close());

  it('sends the next envelope with the previous body, over one connection, every message intact', async () => {
    const relay = await recordingRelay(server.port);
    const pool = poolOn(relay.port);
    try {
      const raws = Array.from({ length: 6 }, (_, i) => message(`<p>message ${i}</p>`, `message ${i}`));
      const handed: number[] = [];
      await Promise.all(raws.map((raw, i) => pool.send(to(`r${i}@example.com`), raw, () => handed.push(i))));
      expect(server.connections()).toBe(1);
      expect(handed.sort()).toEqual([0, 1, 2, 3, 4, 5]);
      expect(server.messages.map((m) => m.rcptTo[0]).sort()).toEqual(raws.map((_, i) => `r${i}@example.com`).sort());
      for (const m of server.messages) expect(m.raw.equals(raws[Number(m.rcptTo[0]!.slice(1, 2))]!)).toBe(true);
      // Only a client that pipelines across messages writes MAIL FROM before the dot's reply came.
      expect(relay.chunks.some((c) => c.includes('\r\n.\r\nMAIL FROM:<'))).toBe(true);
    } finally {
      await pool.close();
      await relay.close();
    }
  });

  it('fails a refused recipient without its hand-over, and the message behind it still goes', async () => {
    const pool = poolOn(server.port);
    try {
      server.rejectRecipients(550, 1);
      const handed: string[] = [];
      const [first, second] = await Promise.allSettled([
        pool.send(to('gone@example.com'), message('<p>a</p>', 'a'), () => handed.push('gone')),
        pool.send(to('here@example.com'), message('<p>b</p>', 'b'), () => handed.push('here')),
      ]);
      expect(first).toMatchObject({ status: 'rejected', reason: { responseCode: 550, command: 'RCPT TO' } });
      expect(second.status).toBe('fulfilled');
      expect(handed).toEqual(['here']);
      expect(server.messages.map((m) => m.rcptTo)).toEqual([['here@example.com']]);
      // The session is still usable after the RSET.
      await pool.send(to('later@example.com'), message('<p>c</p>', 'c'));
      expect(server.messages).toHaveLength(2);
    } finally {
      await pool.close();
    }
  });

  it('sends one message at a time through nodemailer to a server that does not pipeline', async () => {
    const plain = await startSmtpFake({ pipelining: false });
    const relay = await recordingRelay(plain.port);
    const pool = poolOn(relay.port);
    try {
      const raws = Array.from({ length: 3 }, (_, i) => message(`<p>${i}</p>\n.dot`, `${i}`));
      await Promise.all(raws.map((raw, i) => pool.send(to(`p${i}@example.com`), raw)));
      expect(plain.messages).toHaveLength(3);
      for (const m of plain.messages) expect(m.raw.equals(raws[Number(m.rcptTo[0]!.slice(1, 2))]!)).toBe(true);
      expect(relay.chunks.some((c) => /\r\n\.\r\n(MAIL|RCPT)/.test(c))).toBe(false);
      expect(relay.chunks.some((c) => /^MAIL FROM:.*\r\nRCPT TO/.test(c))).toBe(false);
    } finally {
      await pool.close();
      await relay.close();
      await plain.close();
    }
  });
});
