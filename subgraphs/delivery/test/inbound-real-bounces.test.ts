// What issue 11 found the bounce parser getting wrong on real bounce mail, one test each, on the
// real samples in fixtures/bounces (sisimai's, see its NOTICE) or on one of them changed only as
// the test says.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseInboundMessage } from '../src/inbound/index.ts';

const sample = (name: string) => readFileSync(join(import.meta.dirname, 'fixtures', 'bounces', 'eml', name), 'latin1');

/** A sample with one exact change; fails loudly if the text to change is not there. */
function changed(name: string, from: string | RegExp, to: string): string {
  const text = sample(name);
  const result = text.replace(from, to);
  expect(result, `${name}: ${from}`).not.toBe(text);
  return result;
}

describe('rejections caused by the sender do not suppress the recipient', () => {
  it.each([
    ['lhost-postfix-70.eml', 'kijitora@google.example.com', 'policy_authentication', '5.7.26'], // Gmail DMARC
    ['lhost-sendmail-60.eml', 'kijitora-cat@google.example.com', 'policy_authentication', '5.7.26'], // Gmail SPF
    ['rhost-exchangeonline-01.eml', 'kijitora@example.com', 'blocklisted_reputation', '5.7.606'], // banned IP
    ['lhost-postfix-80.eml', 'xxxx@xxxx.com', 'blocklisted_reputation', '5.1.0'], // Spamhaus
    ['rhost-tencent-02.eml', 'neko@qq.example.com', 'rate_limited', '5.0.0'], // "frequency limited"
    ['rhost-godaddy-03.eml', 'kijitora@example.com', 'rate_limited', '5.1.1'], // too many recipients this hour
    ['email-gsuite-11.eml', 'kijitora@example.jp', 'sender_rejected', '5.1.8'], // "Address not found" page, sender refused
    ['email-postfix-39.eml', 'kijitora@example.com', 'content_spam_virus', '5.6.0'], // content filter
  ])('%s: %s is a soft bounce for %s', (file, recipient, reason, status) => {
    const { feedback } = parseInboundMessage(sample(file));
    expect(feedback).toEqual([
      expect.objectContaining({ kind: 'bounce', bounceType: 'soft', reason, recipient, status }),
    ]);
  });
});

describe('delivery-status reports', () => {
  it('several recipients in one block without a blank line between them are all read', () => {
    const oneBlock = changed(
      'us-outlook-04.eml',
      /User Unknown\r?\n\r?\nFinal-Recipient/,
      'User Unknown\nFinal-Recipient',
    );
    expect(parseInboundMessage(oneBlock).feedback).toEqual([
      expect.objectContaining({ recipient: 'sabineko@example.co.jp', bounceType: 'hard', reason: 'user_unknown' }),
      expect.objectContaining({ recipient: 'mikeneko@example.co.jp', bounceType: 'soft', reason: 'mailbox_full' }),
    ]);
  });

  it('a report whose MIME delimiters are missing is read from the status fields in its text', () => {
    // Oracle Messaging Server: two recipients, "550 5.7.1 550 User Unknown" under Status 5.0.0.
    const { kind, feedback } = parseInboundMessage(sample('messagingserver-03.eml'));
    expect(kind).toBe('non_standard_bounce');
    expect(feedback.map((f) => f.recipient)).toEqual(['sabineko@example.org', 'mikeneko@example.org']);
    expect(feedback.every((f) => f.kind === 'bounce' && f.bounceType === 'soft' && f.reason === 'filtered')).toBe(true);
  });

  it('a report whose header boundary does not match the one in its body is still a DSN', () => {
    // Header: ".../xxx.xxxx.net"; body: ".../xxxx.xxxx.net".
    const { kind, feedback } = parseInboundMessage(sample('rhost-franceptt-07.eml'));
    expect(kind).toBe('dsn');
    expect(feedback).toEqual([
      expect.objectContaining({ kind: 'bounce', recipient: 'xxxx@wanadoo.fr', bounceType: 'soft', status: '4.0.0' }),
    ]);
  });

  it('a delimiter line indented by a space (RFC 3464 appendix example) does not hide the status part', () => {
    const { kind, feedback } = parseInboundMessage(sample('rfc3464-35.eml'));
    expect(kind).toBe('dsn');
    expect(feedback.map((f) => [f.recipient, f.kind === 'bounce' && f.bounceType])).toEqual([
      ['kijitora@nyaan.example.com', 'soft'],
      ['sabatora@cat.example.net', 'delayed'],
      ['mikeneko@neko.example.or.jp', 'hard'],
    ]);
  });

  it('Action: deliverable (or delivered) is a delivery, not a bounce', () => {
    const deliverable = changed(
      'rhost-outlook-02.eml',
      /Action: failed\r?\nStatus: 5\.1\.1/,
      'Action: deliverable\nStatus: 2.1.5',
    );
    expect(parseInboundMessage(deliverable).feedback).toEqual([
      { kind: 'delivered', recipient: 'kijitora@example.jp' },
    ]);
  });

  it('an Amazon SES delivery notice that came by mail is a delivery; its bounce notice a hard bounce', () => {
    expect(parseInboundMessage(sample('email-amazonses-12.eml'))).toEqual({
      kind: 'ses_notification',
      feedback: [{ kind: 'delivered', recipient: 'success@simulator.amazonses.com' }],
    });
    expect(parseInboundMessage(sample('email-amazonses-10.eml')).feedback).toEqual([
      expect.objectContaining({
        kind: 'bounce',
        bounceType: 'hard',
        reason: 'user_unknown',
        recipient: 'bounce@simulator.amazonses.com',
      }),
    ]);
  });

  it('of several status codes the one that means what the reply says counts: "5.1.0 … 5.2.2 Mailbox Full" is not hard', () => {
    expect(parseInboundMessage(sample('email-amazonses-03.eml')).feedback).toEqual([
      expect.objectContaining({
        recipient: 'kijitora@example.jp',
        bounceType: 'soft',
        reason: 'mailbox_full',
        status: '5.2.2',
      }),
    ]);
  });
});

describe('bounces without a delivery-status part', () => {
  it('a Message-ID quoted from the returned message is not a recipient', () => {
    // Zoho quotes "Message-ID:<14a3e1b4b5a...@zoho.example.com>"; GMX/1&1 quote the whole header.
    expect(parseInboundMessage(sample('email-zoho-01.eml')).feedback).toEqual([
      expect.objectContaining({ recipient: 'kijitora@example.co.jp', bounceType: 'hard', reason: 'user_unknown' }),
    ]);
    expect(parseInboundMessage(sample('email-einsundeins-02.eml')).feedback).toEqual([
      expect.objectContaining({ recipient: 'kijitora@example.org', bounceType: 'soft', reason: 'message_too_large' }),
    ]);
  });

  it('Exim\'s "This is a permanent error" on a retry timeout is not a hard bounce', () => {
    // The real one: a mailbox full until the retry timeout, the recipient a mailbox file.
    expect(parseInboundMessage(sample('email-exim-60.eml')).feedback).toEqual([
      expect.objectContaining({ recipient: 'nyaan@gol.com', bounceType: 'soft', reason: 'mailbox_full' }),
    ]);
    // The same wording with no cause but the timeout.
    const timeout = changed(
      'email-exim-32.eml',
      / {4}host relay\.example\.net[\s\S]*?203\.0\.113\.22\r?\n/,
      '    retry timeout exceeded\n',
    );
    expect(parseInboundMessage(timeout).feedback).toEqual([
      expect.objectContaining({ recipient: 'kijitora@example.net', bounceType: 'soft', reason: 'expired' }),
    ]);
  });
});

describe('complaints', () => {
  it('a Hotmail complaint without a feedback-report part is an abuse complaint for X-HmXmrOriginalRecipient', () => {
    for (const file of ['arf-22.eml', 'arf-24.eml']) {
      expect(parseInboundMessage(sample(file)), file).toEqual({
        kind: 'arf',
        feedback: [{ kind: 'complaint', recipient: 'kijitora@example.com', feedbackType: 'abuse' }],
      });
    }
  });
});
