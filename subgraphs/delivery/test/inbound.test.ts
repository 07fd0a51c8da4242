// Bounce, complaint and delivery feedback: DSN/ARF fixtures in several real-world formats, and
// provider webhooks with their signatures checked the way each provider signs.
import { execFileSync } from 'node:child_process';
import { createHmac, createSign, generateKeyPairSync, sign as signData } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cachedCertificateFetcher,
  type Feedback,
  parseArf,
  parseDsn,
  parseInboundMessage,
  parseMailgunWebhook,
  parseSendgridWebhook,
  parseSnsWebhook,
  parseTwilioWebhook,
  type SnsWebhookOptions,
} from '@mauntic/delivery/inbound';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'inbound');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const json = (name: string) => JSON.parse(fixture(name).toString('utf8'));

describe('DSN and ARF messages', () => {
  it('a Postfix DSN gives a hard bounce for 5.1.1 and a soft one for 5.2.2 (over quota), with our message id', () => {
    const result = parseInboundMessage(fixture('postfix-hard-5.1.1.eml'));
    expect(result.kind).toBe('dsn');
    expect(result.feedback).toEqual([
      {
        kind: 'bounce',
        bounceType: 'hard',
        reason: 'user_unknown',
        recipient: 'alice@example.net',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in virtual mailbox table',
        messageId: '0b7c5a2e-4f1d-4c3b-9a8e-2d6f1e0c9b71',
        reportingMta: 'mail.example-shop.com',
      },
      {
        kind: 'bounce',
        bounceType: 'soft',
        reason: 'mailbox_full',
        recipient: 'bob@example.org',
        status: '5.2.2',
        diagnostic:
          '552 5.2.2 STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; Failed to process message due to a permanent exception',
        messageId: '0b7c5a2e-4f1d-4c3b-9a8e-2d6f1e0c9b71',
        reportingMta: 'mail.example-shop.com',
      },
    ]);
  });

  it('a Postfix delay warning is a delayed bounce, its id read from the text/rfc822-headers Message-ID', () => {
    expect(parseDsn(fixture('postfix-delayed-4.4.1.eml'))).toEqual([
      {
        kind: 'bounce',
        bounceType: 'delayed',
        reason: 'network',
        recipient: 'carol@example.com',
        status: '4.4.1',
        diagnostic: 'connect to mx.example.com[192.0.2.44]:25: Connection timed out',
        messageId: '5f0e3c1a-8b2d-4e6f-a1c3-7d9b2e4f6a80',
        reportingMta: 'mail.example-shop.com',
      },
    ]);
  });

  it('an Office 365 NDR (5.1.10 RecipientNotFound) is a hard bounce', () => {
    const result = parseInboundMessage(fixture('office365-ndr.eml'));
    expect(result.kind).toBe('dsn');
    expect(result.feedback).toEqual([
      {
        kind: 'bounce',
        bounceType: 'hard',
        reason: 'user_unknown',
        recipient: 'jdoe@contoso.com',
        status: '5.1.10',
        diagnostic:
          '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient jdoe@contoso.com not found by SMTP address lookup',
        messageId: '9c2d4e6f-1a3b-4c5d-8e7f-0a1b2c3d4e5f',
        reportingMta: 'DM6PR11MB4172.namprd11.prod.outlook.com',
      },
    ]);
  });

  it('a Gmail bounce is hard, and its multi-line SMTP reply reads as one line', () => {
    const [bounce, ...rest] = parseInboundMessage(fixture('gmail-bounce.eml')).feedback;
    expect(rest).toEqual([]);
    expect(bounce).toEqual({
      kind: 'bounce',
      bounceType: 'hard',
      reason: 'user_unknown',
      recipient: 'nosuchuser@gmail.com',
      status: '5.1.1',
      diagnostic:
        "550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos or unnecessary spaces. For more information, go to https://support.google.com/mail/?p=NoSuchUser a1si123456qkb.123 - gsmtp",
      messageId: '3e8f1a2b-6c4d-4d9e-b0a1-5c7e9f2b4d61',
      reportingMta: 'googlemail.com',
    });
  });

  it('a qmail bounce without DSN parts is read from its text: hard, with the id from the returned copy', () => {
    const result = parseInboundMessage(fixture('qmail-bounce.eml'));
    expect(result.kind).toBe('non_standard_bounce');
    // support@example-shop.com in the returned copy and our bounce address are not recipients.
    expect(result.feedback).toEqual([
      {
        kind: 'bounce',
        bounceType: 'hard',
        reason: 'user_unknown',
        recipient: 'henry@example-isp.net',
        status: '5.1.1',
        diagnostic: 'Sorry, no mailbox here by that name. (#5.1.1)',
        messageId: '7a1b3c5d-2e4f-4a6b-8c0d-9e1f3a5b7c92',
        reportingMta: 'mx.example-isp.net',
      },
    ]);
  });

  it('an Exim "Mail delivery failed" for a full mailbox is soft although it calls itself permanent', () => {
    const result = parseInboundMessage(fixture('exim-mailbox-full.eml'));
    expect(result.kind).toBe('non_standard_bounce');
    expect(result.feedback).toEqual([
      {
        kind: 'bounce',
        bounceType: 'soft',
        reason: 'mailbox_full',
        recipient: 'ivan@example.org',
        status: '5.2.2',
        diagnostic: '552 5.2.2 Mailbox full: ivan@example.org has exceeded its storage quota',
        messageId: '2d4f6a8c-0e1b-4c3d-9f5a-7b9d1e3f5a03',
      },
    ]);
  });

  it('an Exim delay warning is delayed, its message id recovered from the VERP envelope recipient', () => {
    const verp = 'bounces+8e0a2c4e-6f1b-4d3c-a5e7-9b1d3f5a7c14@bounces.example-shop.com';
    const result = parseInboundMessage(fixture('exim-delay-warning.eml'), { envelopeRecipients: [verp] });
    expect(result.feedback).toEqual([
      {
        kind: 'bounce',
        bounceType: 'delayed',
        reason: 'filtered',
        recipient: 'judy@example.org',
        status: '4.7.1',
        diagnostic: '451 4.7.1 Greylisted, please try again later',
        messageId: '8e0a2c4e-6f1b-4d3c-a5e7-9b1d3f5a7c14',
      },
    ]);
  });

  it('an out-of-office auto-reply is not a bounce, even with a delivery subject and SMTP codes in it', () => {
    expect(parseInboundMessage(fixture('auto-reply.eml'))).toEqual({ kind: 'ignored', feedback: [] });
    // Without the telling subject, Auto-Submitted from a person (not a mailer daemon) still marks it.
    const renamed = fixture('auto-reply.eml')
      .toString('latin1')
      .replace('Subject: Automatic reply: Delivery problem', 'Subject: Re: Delivery problem');
    expect(renamed).toContain('Subject: Re: Delivery problem');
    expect(parseInboundMessage(renamed)).toEqual({ kind: 'ignored', feedback: [] });
  });

  it('a plain reply from a person is ignored', () => {
    const reply = [
      'From: Frank Miller <frank@example.com>',
      'To: news@example-shop.com',
      'Subject: Re: Your weekly deals',
      'Content-Type: text/plain',
      '',
      'Please send the invoice to frank@example.com; my mailbox is full of your deals.',
    ].join('\r\n');
    expect(parseInboundMessage(reply)).toEqual({ kind: 'ignored', feedback: [] });
  });

  it('a Yahoo ARF report is an abuse complaint for the Original-Rcpt-To', () => {
    const result = parseInboundMessage(fixture('yahoo-arf.eml'));
    expect(result.kind).toBe('arf');
    expect(result.feedback).toEqual([
      {
        kind: 'complaint',
        recipient: 'dave@yahoo.com',
        feedbackType: 'abuse',
        messageId: '1f3a5c7e-9b0d-4e2f-8a4c-6e8a0c2e4f25',
        userAgent: 'Yahoo!-Mail-Feedback/2.0',
      },
    ]);
  });

  it('a Microsoft JMRP report names the recipient in X-HmXmrOriginalRecipient and the id in Message-ID', () => {
    expect(parseArf(fixture('microsoft-jmrp.eml'))).toEqual([
      {
        kind: 'complaint',
        recipient: 'erin.smith@outlook.com',
        feedbackType: 'abuse',
        messageId: '6b8d0f2a-4c6e-4a8b-9c1e-3f5b7d9f1a36',
        userAgent: 'Hotmail FBL',
      },
    ]);
  });

  it('an AOL report with the recipient redacted is still a complaint, tied to the send by message id', () => {
    expect(parseArf(fixture('aol-arf-redacted.eml'))).toEqual([
      {
        kind: 'complaint',
        feedbackType: 'abuse',
        messageId: '4c6e8a0c-2e4f-4b6d-8f0a-2c4e6a8c0e47',
        userAgent: 'AOL SComp',
      },
    ]);
  });

  it('ARF not-spam and auth-failure reports are not complaints', () => {
    for (const type of ['not-spam', 'auth-failure']) {
      const report = fixture('yahoo-arf.eml')
        .toString('latin1')
        .replace('Feedback-Type: abuse', `Feedback-Type: ${type}`);
      expect(parseInboundMessage(report)).toEqual({ kind: 'arf', feedback: [] });
    }
  });

  it('a DSN for a delivered recipient gives a delivered outcome', () => {
    const dsn = fixture('postfix-delayed-4.4.1.eml')
      .toString('latin1')
      .replace('Action: delayed', 'Action: delivered')
      .replace('Status: 4.4.1', 'Status: 2.0.0');
    expect(parseDsn(dsn)).toEqual([
      { kind: 'delivered', recipient: 'carol@example.com', messageId: '5f0e3c1a-8b2d-4e6f-a1c3-7d9b2e4f6a80' },
    ]);
  });

  it('a report about a message we did not send carries no message id', () => {
    const foreign = fixture('postfix-hard-5.1.1.eml')
      .toString('latin1')
      .replace(/^X-Mauntic-Message: .*\n/m, '')
      .replace(/^Message-ID: <[^>]+>/m, 'Message-ID: <CAF=abc123@mail.gmail.com>');
    const feedback = parseDsn(foreign);
    expect(feedback).toHaveLength(2);
    expect(feedback.every((f) => f.messageId === undefined)).toBe(true);
  });
});

// --- Amazon SES via SNS -------------------------------------------------------------------------

const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-60eadc530605d63b8e62a523676ef735.pem';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:mauntic-ses-feedback';

let workDir: string;
let snsKey: string;
let snsCert: string;
let otherKey: string;

function opensslCertificate(dir: string, name: string, days: number): { key: string; cert: string } {
  const keyPath = join(dir, `${name}.key`);
  const certPath = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyPath,
      '-out',
      certPath,
      '-days',
      String(days),
      '-subj',
      '/CN=sns.amazonaws.com',
    ],
    { stdio: 'pipe' },
  );
  return { key: readFileSync(keyPath, 'utf8'), cert: readFileSync(certPath, 'utf8') };
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'mauntic-sns-'));
  ({ key: snsKey, cert: snsCert } = opensslCertificate(workDir, 'sns', 2));
  otherKey = opensslCertificate(workDir, 'other', 2).key;
});
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

type SnsFields = Record<string, string | undefined>;

/** Signs exactly as SNS documents: `Key\nvalue\n` for the type's fields, sorted, SHA1 or SHA256 with RSA. */
function signSns(fields: SnsFields, key = snsKey): SnsFields {
  const keys =
    fields.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const canonical = keys
    .filter((k) => fields[k] !== undefined)
    .map((k) => `${k}\n${fields[k]}\n`)
    .join('');
  const signer = createSign(fields.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1');
  signer.update(canonical);
  return { ...fields, Signature: signer.sign(key, 'base64') };
}

function snsNotification(sesMessage: unknown, extra: SnsFields = {}): SnsFields {
  return {
    Type: 'Notification',
    MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    TopicArn: TOPIC,
    Subject: 'Amazon SES Email Event Notification',
    Message: JSON.stringify(sesMessage),
    Timestamp: '2024-04-10T08:12:05.000Z',
    SignatureVersion: '1',
    SigningCertURL: CERT_URL,
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:x',
    ...extra,
  };
}

function snsRequest(body: SnsFields) {
  return {
    headers: { 'x-amz-sns-message-type': body.Type, 'content-type': 'text/plain; charset=UTF-8' },
    body: Buffer.from(JSON.stringify(body)),
  };
}

function snsOptions(overrides: Partial<SnsWebhookOptions> = {}) {
  const fetched: string[] = [];
  const options: SnsWebhookOptions = {
    fetchCertificate: async (url) => {
      fetched.push(url);
      return snsCert;
    },
    topicArns: [TOPIC],
    ...overrides,
  };
  return { options, fetched };
}

describe('SES notifications over SNS', () => {
  it('a signed permanent bounce (SignatureVersion 1) is a hard bounce with our message id', async () => {
    const { options, fetched } = snsOptions();
    const result = await parseSnsWebhook(
      snsRequest(signSns(snsNotification(json('ses-bounce-permanent.json')))),
      options,
    );
    expect(result).toEqual({
      ok: true,
      value: {
        type: 'notification',
        topicArn: TOPIC,
        feedback: [
          {
            kind: 'bounce',
            bounceType: 'hard',
            reason: 'user_unknown',
            recipient: 'kim@example.com',
            status: '5.1.1',
            diagnostic: 'smtp; 550 5.1.1 user unknown',
            messageId: 'a0c2e4f6-8a0b-4c2d-9e4f-6a8c0e2a4c69',
            reportingMta: 'a8-70.smtp-out.amazonses.com',
          },
        ],
      },
    });
    expect(fetched).toEqual([CERT_URL]);
  });

  it('SignatureVersion 2 (SHA256withRSA) verifies; a transient bounce is soft', async () => {
    const { options } = snsOptions();
    const body = signSns(
      snsNotification(json('ses-bounce-transient.json'), { SignatureVersion: '2', Subject: undefined }),
    );
    const result = await parseSnsWebhook(snsRequest(body), options);
    expect(result.ok && result.value.type === 'notification' && result.value.feedback).toEqual([
      {
        kind: 'bounce',
        bounceType: 'soft',
        reason: 'mailbox_full',
        recipient: 'lee@example.com',
        status: '5.2.2',
        diagnostic: 'smtp; 552 5.2.2 Mailbox full',
        messageId: 'b1d3f5a7-9b1c-4d3e-8f5a-7b9d1f3a5c70',
        reportingMta: 'a8-71.smtp-out.amazonses.com',
      },
    ]);
  });

  it('complaints, deliveries and configuration-set delivery delays are normalized', async () => {
    const { options } = snsOptions();
    const feedbackOf = async (name: string): Promise<Feedback[]> => {
      const result = await parseSnsWebhook(snsRequest(signSns(snsNotification(json(name)))), options);
      if (!result.ok || result.value.type !== 'notification') throw new Error(`${name}: ${JSON.stringify(result)}`);
      return result.value.feedback;
    };
    expect(await feedbackOf('ses-complaint.json')).toEqual([
      {
        kind: 'complaint',
        recipient: 'mia@yahoo.com',
        feedbackType: 'abuse',
        messageId: 'c2e4a6c8-0d2e-4f4a-9b6c-8d0f2b4d6e81',
        userAgent: 'Yahoo!-Mail-Feedback/2.0',
      },
    ]);
    expect(await feedbackOf('ses-delivery.json')).toEqual([
      { kind: 'delivered', recipient: 'noah@example.com', messageId: 'd3f5b7d9-1e3f-4a5b-8c7d-9e1a3c5e7f92' },
    ]);
    expect(await feedbackOf('ses-event-delivery-delay.json')).toEqual([
      {
        kind: 'bounce',
        bounceType: 'delayed',
        reason: 'network',
        recipient: 'olivia@example.net',
        status: '4.4.1',
        diagnostic: 'smtp; 421 4.4.1 Unable to connect to remote host',
        messageId: 'e4a6c8e0-2f4a-4b6c-9d8e-0f2a4c6e8a03',
      },
    ]);
  });

  it('a signed SubscriptionConfirmation returns the SubscribeURL to confirm', async () => {
    const { options } = snsOptions();
    const fixtureBody = json('sns-subscription-confirmation.json');
    const result = await parseSnsWebhook(snsRequest(signSns(fixtureBody)), options);
    expect(result).toEqual({
      ok: true,
      value: { type: 'subscription_confirmation', topicArn: TOPIC, subscribeUrl: fixtureBody.SubscribeURL },
    });
  });

  it('a tampered message, a forged SubscribeURL or a signature by another key is refused', async () => {
    const { options } = snsOptions();
    const signed = signSns(snsNotification(json('ses-bounce-permanent.json')));
    const tampered = { ...signed, Message: signed.Message!.replace('Kim@example.com', 'ceo@example.com') };
    const forgedConfirmation = {
      ...signSns(json('sns-subscription-confirmation.json')),
      SubscribeURL: 'https://attacker.example/confirm',
    };
    const otherSigner = signSns(snsNotification(json('ses-bounce-permanent.json')), otherKey);
    const downgraded = { ...signed, SignatureVersion: '2' };
    for (const body of [tampered, forgedConfirmation, otherSigner, downgraded]) {
      const result = await parseSnsWebhook(snsRequest(body), options);
      expect(result.ok ? 'accepted' : result.error.type).toBe('invalid_signature');
    }
  });

  it('a certificate URL off an SNS host, or over http, is refused before anything is fetched', async () => {
    const { options, fetched } = snsOptions();
    const urls = [
      'https://sns.us-east-1.amazonaws.com.attacker.example/SimpleNotificationService-1.pem',
      'https://attacker.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem',
      'http://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem',
      'https://s3.amazonaws.com/SimpleNotificationService-1.pem',
      'not a url',
    ];
    for (const url of urls) {
      const body = signSns(snsNotification(json('ses-bounce-permanent.json'), { SigningCertURL: url }));
      const result = await parseSnsWebhook(snsRequest(body), options);
      expect(result.ok ? 'accepted' : result.error.type, url).toBe('untrusted_sender');
    }
    expect(fetched).toEqual([]);
  });

  it('the certificate host pattern is configurable', async () => {
    const url = 'https://sns.localtest/cert.pem';
    const body = signSns(snsNotification(json('ses-delivery.json'), { SigningCertURL: url }));
    const strict = await parseSnsWebhook(snsRequest(body), snsOptions().options);
    expect(strict.ok).toBe(false);
    const relaxed = await parseSnsWebhook(
      snsRequest(body),
      snsOptions({ certificateHost: /^sns\.localtest$/ }).options,
    );
    expect(relaxed.ok).toBe(true);
  });

  it('a message from a topic we did not subscribe to is refused, however well signed', async () => {
    const { options } = snsOptions();
    const body = signSns(
      snsNotification(json('ses-bounce-permanent.json'), { TopicArn: 'arn:aws:sns:us-east-1:999999999999:other' }),
    );
    const result = await parseSnsWebhook(snsRequest(body), options);
    expect(result.ok ? 'accepted' : result.error.type).toBe('untrusted_sender');
  });

  it('an expired signing certificate is refused', async () => {
    const { options } = snsOptions({ now: new Date(Date.now() + 30 * 86_400_000) });
    const result = await parseSnsWebhook(snsRequest(signSns(snsNotification(json('ses-delivery.json')))), options);
    expect(result.ok ? 'accepted' : result.error.type).toBe('untrusted_sender');
  });

  it('the cached certificate fetcher downloads each certificate once, and again after a failure', async () => {
    const downloads: string[] = [];
    let fail = true;
    const fetchCertificate = cachedCertificateFetcher(async (url) => {
      downloads.push(url);
      if (fail) {
        fail = false;
        throw new Error('connection reset');
      }
      return snsCert;
    });
    const body = snsRequest(signSns(snsNotification(json('ses-delivery.json'))));
    await expect(parseSnsWebhook(body, { fetchCertificate, topicArns: [TOPIC] })).rejects.toThrow('connection reset');
    for (let i = 0; i < 3; i++) {
      expect((await parseSnsWebhook(body, { fetchCertificate, topicArns: [TOPIC] })).ok).toBe(true);
    }
    expect(downloads).toEqual([CERT_URL, CERT_URL]);
  });

  it('a body that is not an SNS message is an invalid payload', async () => {
    const result = await parseSnsWebhook({ headers: {}, body: Buffer.from('{"hello":1}') }, snsOptions().options);
    expect(result.ok ? 'accepted' : result.error.type).toBe('invalid_payload');
  });
});

// --- Twilio -------------------------------------------------------------------------------------

const TWILIO_TOKEN = '12345678901234567890123456789012';

/** Twilio's documented algorithm: HMAC-SHA1 over the URL then each POST param name+value sorted by name. */
function twilioSignature(token: string, url: string, params: Record<string, string>): string {
  const data = Object.keys(params)
    .sort()
    .reduce((acc, key) => acc + key + params[key], url);
  return createHmac('sha1', token).update(data).digest('base64');
}

function twilioRequest(name: string, tamper?: (params: Record<string, string>) => void) {
  const { url, params } = json(name) as { url: string; params: Record<string, string> };
  const signature = twilioSignature(TWILIO_TOKEN, url, params);
  const sent = { ...params };
  tamper?.(sent);
  return {
    url,
    request: {
      headers: { 'X-Twilio-Signature': signature, 'content-type': 'application/x-www-form-urlencoded' },
      body: Buffer.from(new URLSearchParams(sent).toString()),
    },
  };
}

describe('Twilio status callbacks', () => {
  it('undelivered with 30005 (unknown handset) is a hard bounce; the id comes from the callback URL', () => {
    const { url, request } = twilioRequest('twilio-status-undelivered.json');
    expect(parseTwilioWebhook(request, { authToken: TWILIO_TOKEN, url })).toEqual({
      ok: true,
      value: [
        {
          kind: 'bounce',
          bounceType: 'hard',
          reason: 'user_unknown',
          recipient: '+15558675310',
          status: '30005',
          diagnostic: 'Twilio error 30005',
          messageId: 'a068cadc-4f6a-4b8c-9d0e-2f4a6b8c0d15',
        },
      ],
    });
  });

  it('a carrier-filtered failure is soft and a STOP opt-out is an unsubscribe', () => {
    const { url, params } = json('twilio-status-undelivered.json');
    const signed = (changes: Record<string, string>) => {
      const p = { ...params, ...changes };
      return {
        headers: { 'x-twilio-signature': twilioSignature(TWILIO_TOKEN, url, p) },
        body: Buffer.from(new URLSearchParams(p).toString()),
      };
    };
    const soft = parseTwilioWebhook(signed({ ErrorCode: '30007', MessageStatus: 'failed' }), {
      authToken: TWILIO_TOKEN,
      url,
    });
    expect(soft.ok && soft.value[0]).toMatchObject({
      kind: 'bounce',
      bounceType: 'soft',
      reason: 'content_spam_virus',
      status: '30007',
    });
    const stop = parseTwilioWebhook(signed({ ErrorCode: '21610', MessageStatus: 'failed' }), {
      authToken: TWILIO_TOKEN,
      url,
    });
    expect(stop).toEqual({
      ok: true,
      value: [{ kind: 'unsubscribe', recipient: '+15558675310', messageId: 'a068cadc-4f6a-4b8c-9d0e-2f4a6b8c0d15' }],
    });
  });

  it('delivered is a delivery; queued and sent say nothing yet', () => {
    const { url, request } = twilioRequest('twilio-status-delivered.json');
    expect(parseTwilioWebhook(request, { authToken: TWILIO_TOKEN, url })).toEqual({
      ok: true,
      value: [{ kind: 'delivered', recipient: '+15558675311', messageId: 'b179dbed-5a7b-4c9d-8e1f-3a5b7c9d1e26' }],
    });
    const { params } = json('twilio-status-delivered.json');
    const sent = { ...params, MessageStatus: 'sent', SmsStatus: 'sent' };
    const result = parseTwilioWebhook(
      {
        headers: { 'x-twilio-signature': twilioSignature(TWILIO_TOKEN, url, sent) },
        body: Buffer.from(new URLSearchParams(sent).toString()),
      },
      { authToken: TWILIO_TOKEN, url },
    );
    expect(result).toEqual({ ok: true, value: [] });
  });

  it('a changed parameter, another URL or another token fails the signature', () => {
    const tampered = twilioRequest('twilio-status-undelivered.json', (p) => {
      p.To = '+15550000000';
    });
    const good = twilioRequest('twilio-status-undelivered.json');
    const attempts = [
      parseTwilioWebhook(tampered.request, { authToken: TWILIO_TOKEN, url: tampered.url }),
      parseTwilioWebhook(good.request, { authToken: TWILIO_TOKEN, url: `${good.url}x` }),
      parseTwilioWebhook(good.request, { authToken: 'another-token-another-token-0000', url: good.url }),
      parseTwilioWebhook({ headers: {}, body: good.request.body }, { authToken: TWILIO_TOKEN, url: good.url }),
    ];
    for (const result of attempts) expect(result.ok ? 'accepted' : result.error.type).toBe('invalid_signature');
  });
});

// --- SendGrid -----------------------------------------------------------------------------------

describe('SendGrid event webhook', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const verificationKey = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const body = fixture('sendgrid-events.json');
  const timestamp = '1712829700';
  const signature = signData('sha256', Buffer.concat([Buffer.from(timestamp), body]), {
    key: privateKey,
    dsaEncoding: 'der',
  }).toString('base64');
  const headers = {
    'X-Twilio-Email-Event-Webhook-Signature': signature,
    'X-Twilio-Email-Event-Webhook-Timestamp': timestamp,
  };

  it('bounce, blocked, deferred, dropped, spam report, delivered and unsubscribe events are normalized', () => {
    const result = parseSendgridWebhook({ headers, body }, { publicKey: verificationKey });
    expect(result).toEqual({
      ok: true,
      value: [
        {
          kind: 'bounce',
          bounceType: 'hard',
          reason: 'user_unknown',
          recipient: 'pat@example.com',
          status: '5.1.1',
          diagnostic: '550 5.1.1 The email account that you tried to reach does not exist.',
          messageId: 'f5b7d9f1-3a5b-4c7d-8e9f-1a3b5c7d9e04',
        },
        {
          kind: 'bounce',
          bounceType: 'soft',
          reason: 'blocklisted_reputation',
          recipient: 'quinn@example.com',
          status: '5.7.1',
          diagnostic: '550 5.7.1 Service unavailable; Client host [198.51.100.80] blocked using Spamhaus',
          messageId: '06c8e0a2-4b6c-4d8e-9f0a-2b4c6d8e0f15',
        },
        {
          kind: 'bounce',
          bounceType: 'delayed',
          reason: 'filtered',
          recipient: 'rosa@example.com',
          status: '4.7.1',
          diagnostic: '451 4.7.1 Greylisted, try again later',
          messageId: '17d9f1b3-5c7d-4e9f-8a1b-3c5d7e9f1a26',
        },
        {
          kind: 'bounce',
          bounceType: 'hard',
          reason: 'user_unknown',
          recipient: 'sam@example.com',
          status: '5.0.0',
          diagnostic: 'Bounced Address',
          messageId: '28e0a2c4-6d8e-4f0a-9b2c-4d6e8f0a2b37',
        },
        {
          kind: 'complaint',
          recipient: 'tara@example.com',
          feedbackType: 'abuse',
          messageId: '39f1b3d5-7e9f-4a1b-8c3d-5e7f9a1b3c48',
        },
        { kind: 'delivered', recipient: 'uma@example.com', messageId: '4a02c4e6-8f0a-4b2c-9d4e-6f8a0b2c4d59' },
        { kind: 'unsubscribe', recipient: 'vic@example.com', messageId: '5b13d5f7-9a1b-4c3d-8e5f-7a9b1c3d5e60' },
      ],
    });
  });

  it('a changed body, timestamp or key fails verification; a missing signature too', () => {
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
      .publicKey.export({ format: 'der', type: 'spki' })
      .toString('base64');
    const tamperedBody = Buffer.from(body.toString('utf8').replace('pat@example.com', 'boss@example.com'));
    const attempts = [
      parseSendgridWebhook({ headers, body: tamperedBody }, { publicKey: verificationKey }),
      parseSendgridWebhook(
        { headers: { ...headers, 'X-Twilio-Email-Event-Webhook-Timestamp': '1712829701' }, body },
        { publicKey: verificationKey },
      ),
      parseSendgridWebhook({ headers, body }, { publicKey: otherKey }),
      parseSendgridWebhook({ headers: {}, body }, { publicKey: verificationKey }),
    ];
    for (const result of attempts) expect(result.ok ? 'accepted' : result.error.type).toBe('invalid_signature');
  });

  it('a valid but old signature is refused when a maximum age is set', () => {
    const result = parseSendgridWebhook(
      { headers, body },
      { publicKey: verificationKey, maxAgeSeconds: 300, now: new Date((Number(timestamp) + 3600) * 1000) },
    );
    expect(result.ok ? 'accepted' : result.error.type).toBe('stale');
  });
});

// --- Mailgun ------------------------------------------------------------------------------------

const MAILGUN_KEY = 'key-3ax6xnjp29jd6fds4gc373sgvjxteol0';

function mailgunRequest(name: string, key = MAILGUN_KEY) {
  const body = json(name);
  body.signature.signature = createHmac('sha256', key)
    .update(body.signature.timestamp + body.signature.token)
    .digest('hex');
  return { headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(body)) };
}

describe('Mailgun webhooks', () => {
  it('a permanent failure is a hard bounce with the id from user-variables', () => {
    expect(parseMailgunWebhook(mailgunRequest('mailgun-failed-permanent.json'), { signingKey: MAILGUN_KEY })).toEqual({
      ok: true,
      value: [
        {
          kind: 'bounce',
          bounceType: 'hard',
          reason: 'user_unknown',
          recipient: 'xena@example.com',
          status: '5.1.1',
          diagnostic: '550 The email account that you tried to reach does not exist.',
          messageId: '7d35f7a9-1c3d-4e5f-8a7b-9c1d3e5f7a82',
        },
      ],
    });
  });

  it('a temporary failure is delayed (Mailgun retries) and a complaint is a complaint', () => {
    const temporary = parseMailgunWebhook(mailgunRequest('mailgun-failed-temporary.json'), { signingKey: MAILGUN_KEY });
    expect(temporary).toEqual({
      ok: true,
      value: [
        {
          kind: 'bounce',
          bounceType: 'delayed',
          reason: 'mailbox_full',
          recipient: 'yara@example.com',
          status: '4.2.2',
          diagnostic: '452 4.2.2 The email account that you tried to reach is over quota.',
          messageId: '8e46a8ba-2d4e-4f6a-9b8c-0d2e4f6a8b93',
        },
      ],
    });
    const complaint = parseMailgunWebhook(mailgunRequest('mailgun-complained.json'), { signingKey: MAILGUN_KEY });
    expect(complaint).toEqual({
      ok: true,
      value: [
        {
          kind: 'complaint',
          recipient: 'zoe@example.com',
          feedbackType: 'abuse',
          messageId: '9f57b9cb-3e5f-4a7b-8c9d-1e3f5a7b9c04',
        },
      ],
    });
  });

  it('a wrong key or a changed timestamp fails the signature; an old one is stale', () => {
    const wrongKey = parseMailgunWebhook(mailgunRequest('mailgun-failed-permanent.json', 'key-other'), {
      signingKey: MAILGUN_KEY,
    });
    expect(wrongKey.ok ? 'accepted' : wrongKey.error.type).toBe('invalid_signature');
    const good = mailgunRequest('mailgun-failed-permanent.json');
    const parsed = JSON.parse(good.body.toString('utf8'));
    parsed.signature.timestamp = String(Number(parsed.signature.timestamp) + 1);
    const replayedTimestamp = parseMailgunWebhook(
      { headers: good.headers, body: Buffer.from(JSON.stringify(parsed)) },
      { signingKey: MAILGUN_KEY },
    );
    expect(replayedTimestamp.ok ? 'accepted' : replayedTimestamp.error.type).toBe('invalid_signature');
    const old = parseMailgunWebhook(good, {
      signingKey: MAILGUN_KEY,
      maxAgeSeconds: 300,
      now: new Date(Date.UTC(2024, 5, 1)),
    });
    expect(old.ok ? 'accepted' : old.error.type).toBe('stale');
  });
});
