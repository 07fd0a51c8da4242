// The bounce classifier as a pure rule: reason and hard/soft from the enhanced status code, the
// reply code, the wording and the SMTP command, with replies quoted from real bounce mail.
import { describe, expect, it } from 'vitest';
import {
  BOUNCE_EFFECTS,
  BOUNCE_REASONS,
  type BounceEvidence,
  classifyBounce,
  countsAgainstSender,
  suppressesAddress,
} from '../src/domain/bounce.ts';

const failed = (diagnostic: string, status?: string): BounceEvidence => ({ action: 'failed', status, diagnostic });

describe('bounce reasons and what they mean', () => {
  it('only a dead address (unknown user, disabled or moved mailbox, unknown host) suppresses', () => {
    const suppressing = BOUNCE_REASONS.filter(suppressesAddress);
    expect(suppressing).toEqual(['user_unknown', 'mailbox_disabled', 'host_unknown']);
  });

  it('rejections caused by the sender count against the sending domain and IP, never the recipient', () => {
    expect(BOUNCE_REASONS.filter(countsAgainstSender)).toEqual([
      'policy_authentication',
      'blocklisted_reputation',
      'rate_limited',
      'sender_rejected',
      'relaying_denied',
      'content_spam_virus',
      'message_too_large',
    ]);
    expect(Object.keys(BOUNCE_EFFECTS).sort()).toEqual([...BOUNCE_REASONS].sort());
  });
});

describe('classifyBounce', () => {
  it('an unknown user in a permanent reply is hard; the same words in a temporary one are not', () => {
    expect(
      classifyBounce(
        failed(
          '550 5.1.1 <userunknown@libsisimai.net>: Recipient address rejected: User unknown in local recipient table',
          '5.1.1',
        ),
      ),
    ).toEqual({ reason: 'user_unknown', bounceType: 'hard', status: '5.1.1' });
    expect(
      classifyBounce(failed('450 4.1.1 <x@example.org>: Recipient address rejected: User unknown', '4.1.1')),
    ).toEqual({ reason: 'user_unknown', bounceType: 'soft', status: '4.1.1' });
  });

  it('dead addresses: a disabled Gmail account, a moved mailbox, a domain with no MX, Microsoft RecipientNotFound', () => {
    const cases: [BounceEvidence, string][] = [
      [failed('550-5.2.1 The email account that you tried to reach is inactive.', '5.2.1'), 'mailbox_disabled'],
      [failed('550 5.1.6 recipient no longer on server', '5.1.6'), 'mailbox_disabled'],
      [failed('No mx record found for domain=libsisimai.org'), 'host_unknown'],
      [
        failed('554 The mail could not be delivered to the recipient because the domain is not reachable.'),
        'host_unknown',
      ],
      [failed('550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'), 'user_unknown'],
      [failed('550 5.4.1 Recipient address rejected: Access denied. AS(201806281)', '5.4.1'), 'user_unknown'],
    ];
    for (const [evidence, reason] of cases) {
      expect(classifyBounce(evidence), evidence.diagnostic).toMatchObject({ reason, bounceType: 'hard' });
    }
  });

  it('sender-caused 5.x.x rejections are soft and say why: DMARC, block list, rate limit, sender, content', () => {
    const cases: [BounceEvidence, string][] = [
      [
        failed(
          "550 5.7.26 Unauthenticated email from libsisimai.org is not accepted due to domain's DMARC policy.",
          '5.7.26',
        ),
        'policy_authentication',
      ],
      [
        failed('550 5.7.1 The MAIL FROM domain [email.example.jp] has an SPF record with a hard fail policy', '5.7.1'),
        'policy_authentication',
      ],
      [
        failed('550 5.7.25 [192.0.2.202] The IP address sending this message does not have a PTR record setup'),
        'policy_authentication',
      ],
      [
        failed(
          '550 5.7.606 Access denied, banned sending IP [198.51.100.222]. To request removal from this list',
          '5.7.606',
        ),
        'blocklisted_reputation',
      ],
      [
        failed('550-5.1.0 MXIN506 MailFrom domain is listed in Spamhaus. To request removal', '5.1.0'),
        'blocklisted_reputation',
      ],
      [failed('550 Ip frequency limited [V2VkIEFwciAgMyAxNjozNjo1OSBKU1QgMjAxOQo=]', '5.0.0'), 'rate_limited'],
      [
        failed(
          '550 5.1.1 <kijitora@example.com> - 203.0.113.222 has sent to too many recipients this hour. IB607',
          '5.1.1',
        ),
        'rate_limited',
      ],
      [failed('501 5.1.8 Sender address rejected', '5.1.8'), 'sender_rejected'],
      [failed('554 5.7.1 <kijitora@example.com>: Relay access denied', '5.7.1'), 'relaying_denied'],
      [
        failed('554 5.6.0 This message has been scored as spam with a probability of more than 90%', '5.6.0'),
        'content_spam_virus',
      ],
      [failed('550 Mail size limit exceeded.'), 'message_too_large'],
    ];
    for (const [evidence, reason] of cases) {
      expect(classifyBounce(evidence), evidence.diagnostic).toMatchObject({ reason, bounceType: 'soft' });
    }
  });

  it("wording about our own account or HELO is never read as the recipient's mailbox or host", () => {
    expect(classifyBounce(failed('550 5.7.1 Your account has been disabled', '5.7.1'))).toMatchObject({
      bounceType: 'soft',
    });
    expect(
      classifyBounce(failed('450 4.7.1 <mx.example.com>: Helo command rejected: Host not found', '4.7.1')),
    ).toMatchObject({ reason: 'policy_authentication', bounceType: 'soft' });
    expect(
      classifyBounce(failed('550 5.1.8 <news@shop.example>: Sender address rejected: Domain not found', '5.1.8')),
    ).toMatchObject({ reason: 'sender_rejected', bounceType: 'soft' });
  });

  it('of several status codes, the one that means what the reply says wins, not the first', () => {
    expect(
      classifyBounce(
        failed("5.1.0 - Unknown address error 550-'5.2.2 <kijitora@example.jp>... Mailbox Full'", '5.0.0'),
      ),
    ).toEqual({ reason: 'mailbox_full', bounceType: 'soft', status: '5.2.2' });
  });

  it('Exim\'s "This is a permanent error" on a retry timeout is not hard: the cause, or expired', () => {
    const exim = (reason: string) =>
      classifyBounce({
        action: 'failed',
        context: `A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nyaan@gol.com
    ${reason}`,
      });
    expect(exim('mailbox is full: retry timeout exceeded')).toEqual({ reason: 'mailbox_full', bounceType: 'soft' });
    expect(exim('retry timeout exceeded')).toEqual({ reason: 'expired', bounceType: 'soft' });
  });

  it('a temporary reply that ended the delivery expired; one still being retried is delayed', () => {
    expect(classifyBounce(failed('421 4.4.2 Connection dropped due to timeout', '4.4.7'))).toMatchObject({
      reason: 'expired',
      bounceType: 'soft',
    });
    expect(
      classifyBounce({
        action: 'delayed',
        status: '4.4.1',
        diagnostic: 'connect to mx.example.com: Connection timed out',
      }),
    ).toEqual({ reason: 'network', bounceType: 'delayed', status: '4.4.1' });
  });

  it('Action delivered, relayed, expanded or deliverable, or a 2.x.x status, is a delivery, not a bounce', () => {
    for (const action of ['delivered', 'relayed', 'expanded', 'deliverable']) {
      expect(classifyBounce({ action, status: '2.1.5' })).toEqual({
        reason: 'delivered',
        bounceType: 'soft',
        status: '2.1.5',
      });
    }
    expect(classifyBounce({ status: '2.0.0' })).toMatchObject({ reason: 'delivered' });
  });

  it('a refusal before RCPT TO is never about the recipient, whatever its words', () => {
    expect(
      classifyBounce({
        action: 'failed',
        diagnostic:
          'SMTP error from remote mail server after MAIL FROM:<sironeko-nyaan@neko.example.com>: 550 5.1.7 No such domain neko.example.com.',
      }),
    ).toMatchObject({ reason: 'sender_rejected', bounceType: 'soft' });
    expect(
      classifyBounce({
        action: 'failed',
        diagnostic: 'SMTP error from remote mail server after initial connection: 554 5.7.1 access denied',
      }),
    ).toMatchObject({ reason: 'blocklisted_reputation', bounceType: 'soft' });
  });

  it('"user unknown" after DATA, or under a 5.7.x policy code without RCPT TO, is a filter, not a dead address', () => {
    expect(
      classifyBounce({
        action: 'failed',
        status: '5.0.0',
        diagnostic: '550 Unknown user kijitora@example.jp',
        context: '>>> DATA\n<<< 550 Unknown user kijitora@example.jp',
      }),
    ).toMatchObject({ reason: 'filtered', bounceType: 'soft' });
    expect(classifyBounce(failed('550 5.7.1 550 User Unknown: sabineko@example.org', '5.0.0'))).toMatchObject({
      reason: 'filtered',
      bounceType: 'soft',
    });
    // Confirmed at RCPT TO it is the recipient's.
    expect(
      classifyBounce({
        action: 'failed',
        diagnostic:
          'SMTP error from remote mail server after RCPT TO:<kijitora@exmaple.ch>: 554 5.7.1 <kijitora@exmaple.ch>: Recipient address rejected: Access denied',
      }),
    ).toMatchObject({ reason: 'user_unknown', bounceType: 'hard' });
    // A pipelining Sendmail shows the RCPT refusal after ">>> DATA"; the 503 "Need RCPT" tells.
    expect(
      classifyBounce({
        action: 'failed',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <userunknown@bouncehammer.jp>... User Unknown',
        context:
          '>>> DATA\n<<< 550 5.1.1 <userunknown@bouncehammer.jp>... User Unknown\n<<< 503 5.0.0 Need RCPT (recipient)',
      }),
    ).toMatchObject({ reason: 'user_unknown', bounceType: 'hard' });
  });

  it('with nothing telling, a bounce is unknown and soft, never hard', () => {
    expect(classifyBounce(failed('550 Message rejected', '5.0.0'))).toEqual({
      reason: 'unknown',
      bounceType: 'soft',
      status: '5.0.0',
    });
    expect(classifyBounce({ action: 'failed' })).toEqual({ reason: 'unknown', bounceType: 'soft' });
  });
});
