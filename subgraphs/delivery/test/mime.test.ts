// The raw message writer the SMTP, SES and Mailgun adapters send: what mail readers parse back.
import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import { compileEmailTemplate, renderEmail } from '../src/domain/templates/index.ts';
import { buildRawMessage } from '../src/providers/index.ts';
import { listUnsubscribeHeaders } from '../src/tracking/index.ts';

const base = {
  messageId: '01a217f5-c397-7788-bb57-4906166c7a0f',
  from: { name: 'Åsa "the shop" Øberg', address: 'shop@shop.example.com' },
  to: 'ada@example.com',
  subject: 'Grüße, Ada — your order',
  html: `<p>Hello Ada — ${'long line of text '.repeat(30)}</p>\n<p>second</p>`,
  text: `Hello Ada — ${'long line of text '.repeat(30)}\nsecond`,
  headers: { 'List-Unsubscribe': '<https://mail.example.test/t/unsubscribe?t=abc.def>', 'X-Mauntic-Message': 'm-1' },
};

describe('the raw message writer', () => {
  it('writes a rendered template with its Message-ID, unsubscribe headers and both parts', async () => {
    const compiled = await compileEmailTemplate({
      html: '<p>Hello {{contact.firstName}} &amp; co</p>',
      subject: 'Héllo {{contact.firstName}}',
    });
    if (!compiled.ok) throw compiled.error;
    const out = renderEmail(compiled.value, {
      contact: { id: 'c-1', email: 'ada@example.com', firstName: 'Ada' },
      message: { id: 'm-1' },
      unsubscribeUrl: 'https://t.example.com/u/TOKEN',
      preferencesUrl: 'https://t.example.com/p/TOKEN',
    });
    const raw = buildRawMessage({
      messageId: 'm-123',
      // The Message-ID's domain is the sender's.
      from: { name: 'Mauntic', address: 'news@mail.example.com' },
      to: 'ada@example.com',
      subject: out.subject,
      html: out.html,
      text: out.text,
      headers: listUnsubscribeHeaders('https://t.example.com/u/TOKEN', 'unsub@example.com'),
    });
    expect(Buffer.isBuffer(raw)).toBe(true);
    const parsed = await simpleParser(raw);
    expect(parsed.messageId).toBe('<m-123@mail.example.com>');
    expect(parsed.subject).toBe('Héllo Ada');
    expect(parsed.text?.trim()).toBe('Hello Ada & co');
    expect(parsed.html).toContain('<p>Hello Ada &amp; co</p>');
    expect(raw.toString()).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    expect(raw.toString()).toMatch(
      /List-Unsubscribe: <https:\/\/t\.example\.com\/u\/TOKEN>,\s+<mailto:unsub@example\.com>/,
    );
  });

  it('writes a message that mail readers parse back field for field', async () => {
    const raw = buildRawMessage(base);
    const mail = await simpleParser(raw);
    expect(mail.subject).toBe(base.subject);
    expect(mail.from?.value[0]).toEqual({ name: base.from.name, address: base.from.address });
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]!.address : null).toBe('ada@example.com');
    expect(mail.messageId).toBe(`<${base.messageId}@shop.example.com>`);
    expect(mail.html).toBe(base.html);
    expect(mail.text).toBe(base.text);
    expect(mail.headers.get('x-mauntic-message')).toBe('m-1');
  });

  it('keeps every line within 78 characters and uses CRLF only', () => {
    const text = buildRawMessage(base).toString('utf8');
    expect(text.split('\r\n').every((line) => line.length <= 78)).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
  });

  it('sends ASCII bodies as they are and anything else quoted-printable', async () => {
    const ascii = { ...base, text: 'plain ascii\nsecond line', html: '<p>plain</p>' };
    const head = buildRawMessage(ascii).toString('utf8');
    expect(head.match(/Content-Transfer-Encoding: 7bit/g)).toHaveLength(2);
    const long = buildRawMessage({ ...ascii, html: `<p>${'x'.repeat(1200)}</p>` }).toString('utf8');
    expect(long).toContain('Content-Transfer-Encoding: quoted-printable');
    expect((await simpleParser(Buffer.from(long))).html).toBe(`<p>${'x'.repeat(1200)}</p>`);
    expect(
      buildRawMessage(base)
        .toString('utf8')
        .match(/Content-Transfer-Encoding: quoted-printable/g),
    ).toHaveLength(2);
  });

  it('picks another boundary when a body contains the usual one', async () => {
    const trap = `--_mauntic_${base.messageId}`;
    const raw = buildRawMessage({ ...base, text: `a\n${trap}\nb`, html: '<p>x</p>' });
    expect(raw.toString('utf8')).not.toContain(`boundary="${trap}"`);
    expect((await simpleParser(raw)).text).toBe(`a\n${trap}\nb`);
  });

  it('cannot be made to grow a header from data with line breaks', async () => {
    const raw = buildRawMessage({
      ...base,
      subject: 'Hi\r\nBcc: victim@example.com',
      from: { name: 'Shop\r\nX-Evil: 1', address: 'shop@shop.example.com' },
    });
    const head = raw.toString('utf8').split('\r\n\r\n')[0]!;
    expect(head).not.toMatch(/^Bcc:/im);
    expect(head).not.toMatch(/^X-Evil:/im);
    const mail = await simpleParser(raw);
    expect(mail.bcc).toBeUndefined();
    expect(mail.subject).toBe('Hi Bcc: victim@example.com');
  });
});
