// What reaches an SMTP server through the pool is the message as written, byte for byte, whether
// it took the pass-through path (canonical, no leading dots) or the escaping one.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildRawMessage } from '../src/providers';
import { SmtpPool } from '../src/providers/smtp-pool';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server';

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
