// The inbound SMTP/LMTP endpoint, driven by a real SMTP client (nodemailer) over loopback.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Feedback, type InboundEnvelope, type InboundServer, startInboundServer } from '@mauntic/delivery/inbound';
import nodemailer from 'nodemailer';
import { afterEach, describe, expect, it } from 'vitest';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'inbound');
const fixture = (name: string) => readFileSync(join(FIXTURES, name));
const BOUNCE_ADDRESS = 'bounces@bounces.example-shop.com';

const silent = { debug() {}, info() {}, warn() {}, error() {} };

interface Received {
  feedback: Feedback[];
  raw: Buffer;
  envelope: InboundEnvelope;
}

const servers: InboundServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(
  options: { lmtp?: boolean; domains?: string[]; maxMessageBytes?: number; failTimes?: number } = {},
): Promise<{ server: InboundServer; received: Received[]; errors: unknown[] }> {
  const received: Received[] = [];
  const errors: unknown[] = [];
  let failures = options.failTimes ?? 0;
  const server = await startInboundServer({
    port: 0,
    host: '127.0.0.1',
    lmtp: options.lmtp,
    domains: options.domains,
    maxMessageBytes: options.maxMessageBytes,
    logger: { ...silent, error: (obj) => errors.push(obj) },
    onFeedback: async (feedback, raw, envelope) => {
      if (failures > 0) {
        failures--;
        throw new Error('database is down');
      }
      received.push({ feedback, raw, envelope });
    },
  });
  servers.push(server);
  return { server, received, errors };
}

function send(server: InboundServer, raw: Buffer, options: { lmtp?: boolean; to?: string[]; from?: string } = {}) {
  const transport = nodemailer.createTransport({
    host: server.host,
    port: server.port,
    secure: false,
    ignoreTLS: true,
    lmtp: options.lmtp ?? false,
  });
  return transport
    .sendMail({ envelope: { from: options.from ?? '', to: options.to ?? [BOUNCE_ADDRESS] }, raw })
    .finally(() => transport.close());
}

describe('inbound feedback server', () => {
  it('a DSN sent over SMTP reaches onFeedback as normalized bounces, with the raw message and envelope', async () => {
    const { server, received } = await start({ domains: ['bounces.example-shop.com'] });
    const raw = fixture('postfix-hard-5.1.1.eml');
    const info = await send(server, raw);
    expect(info.rejected).toEqual([]);
    expect(received).toHaveLength(1);
    expect(received[0]!.feedback).toEqual([
      expect.objectContaining({ kind: 'bounce', bounceType: 'hard', recipient: 'alice@example.net', status: '5.1.1' }),
      expect.objectContaining({ kind: 'bounce', bounceType: 'soft', recipient: 'bob@example.org', status: '5.2.2' }),
    ]);
    expect(received[0]!.feedback[0]!.messageId).toBe('0b7c5a2e-4f1d-4c3b-9a8e-2d6f1e0c9b71');
    expect(received[0]!.raw.toString('latin1')).toContain('Final-Recipient: rfc822; Alice@Example.net');
    expect(received[0]!.envelope).toMatchObject({ mailFrom: '', rcptTo: [BOUNCE_ADDRESS] });
  });

  it('an ARF report sent over SMTP reaches onFeedback as a complaint', async () => {
    const { server, received } = await start();
    await send(server, fixture('yahoo-arf.eml'), { from: 'feedback@arf.mail.yahoo.com', to: ['fbl@example-shop.com'] });
    expect(received.map((r) => r.feedback)).toEqual([
      [
        {
          kind: 'complaint',
          recipient: 'dave@yahoo.com',
          feedbackType: 'abuse',
          messageId: '1f3a5c7e-9b0d-4e2f-8a4c-6e8a0c2e4f25',
          userAgent: 'Yahoo!-Mail-Feedback/2.0',
        },
      ],
    ]);
  });

  it('speaks LMTP: a delay DSN and a JMRP complaint delivered by a local MTA are normalized', async () => {
    const { server, received } = await start({ lmtp: true });
    await send(server, fixture('postfix-delayed-4.4.1.eml'), { lmtp: true });
    await send(server, fixture('microsoft-jmrp.eml'), { lmtp: true, from: 'staff@hotmail.com' });
    expect(received.map((r) => r.feedback)).toEqual([
      [expect.objectContaining({ kind: 'bounce', bounceType: 'delayed', recipient: 'carol@example.com' })],
      [expect.objectContaining({ kind: 'complaint', recipient: 'erin.smith@outlook.com', feedbackType: 'abuse' })],
    ]);
  });

  it('a VERP envelope recipient names the message when the bounce quotes nothing of it', async () => {
    const { server, received } = await start();
    const verp = 'bounces+8e0a2c4e-6f1b-4d3c-a5e7-9b1d3f5a7c14@bounces.example-shop.com';
    // Every header line naming the message goes: only the envelope is left to tell.
    const raw = Buffer.from(
      fixture('exim-delay-warning.eml')
        .toString('latin1')
        .replace(/^.*8e0a2c4e.*\n/gm, ''),
    );
    expect(raw.toString('latin1')).not.toContain('8e0a2c4e');
    await send(server, raw, { to: [verp] });
    expect(received[0]?.feedback).toEqual([
      expect.objectContaining({ recipient: 'judy@example.org', messageId: '8e0a2c4e-6f1b-4d3c-a5e7-9b1d3f5a7c14' }),
    ]);
  });

  it('when onFeedback fails the sender gets a 451 and the retried bounce is delivered', async () => {
    const { server, received, errors } = await start({ failTimes: 1 });
    const raw = fixture('office365-ndr.eml');
    const failure = await send(server, raw).then(
      () => null,
      (error: { responseCode?: number; response?: string }) => error,
    );
    expect(failure?.responseCode).toBe(451);
    expect(failure?.response).toMatch(/^451 4\.3\.0/);
    expect(received).toEqual([]);
    expect(errors).toHaveLength(1);
    await send(server, raw);
    expect(received.map((r) => r.feedback[0])).toEqual([
      expect.objectContaining({ kind: 'bounce', bounceType: 'hard', recipient: 'jdoe@contoso.com' }),
    ]);
  });

  it('in LMTP mode a failing onFeedback is a 451 for the recipient as well', async () => {
    const { server, received } = await start({ lmtp: true, failTimes: 1 });
    // LMTP answers DATA once per recipient; nodemailer reports those replies per recipient.
    const info = await send(server, fixture('gmail-bounce.eml'), { lmtp: true });
    expect(info.accepted).toEqual([]);
    expect(info.rejectedErrors?.map((e) => [e.recipient, e.responseCode])).toEqual([[BOUNCE_ADDRESS, 451]]);
    expect(received).toEqual([]);
  });

  it('an auto-reply is accepted and dropped without calling onFeedback', async () => {
    const { server, received } = await start();
    const info = await send(server, fixture('auto-reply.eml'));
    expect(info.accepted).toEqual([BOUNCE_ADDRESS]);
    expect(info.response).toMatch(/^250 /);
    expect(received).toEqual([]);
  });

  it('recipients outside the configured domains are refused', async () => {
    const { server, received } = await start({ domains: ['bounces.example-shop.com'] });
    const failure = await send(server, fixture('postfix-hard-5.1.1.eml'), { to: ['someone@elsewhere.example'] }).then(
      () => null,
      (error: { responseCode?: number }) => error,
    );
    expect(failure?.responseCode).toBe(550);
    expect(received).toEqual([]);
    // Domain matching ignores case.
    await send(server, fixture('postfix-hard-5.1.1.eml'), { to: ['Bounces@BOUNCES.Example-Shop.com'] });
    expect(received).toHaveLength(1);
  });

  it('a message over the size limit is refused with 552 and not parsed', async () => {
    const { server, received } = await start({ maxMessageBytes: 2048 });
    const failure = await send(server, fixture('postfix-hard-5.1.1.eml')).then(
      () => null,
      (error: { responseCode?: number }) => error,
    );
    expect(failure?.responseCode).toBe(552);
    expect(received).toEqual([]);
  });
});
