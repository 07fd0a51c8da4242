// Bounces, complaints and delivery reports as they really arrive: DSN and ARF mail on the inbound
// SMTP endpoint, about messages the engine really sent, and signed provider webhooks (Mailgun,
// Twilio) on the HTTP routes. Each must change the message, the suppression list and the outbox,
// and a forged or foreign report must change nothing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newId, unwrap } from '@mauntic/kernel';
import { type RunningHttpServer, startHttpServer } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import twilio from 'twilio';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryEngine } from '../../../workers/delivery-engine/src/engine.ts';
import { deliveryRoutes } from '../src/http/routes.ts';
import type { InboundServer } from '../src/inbound/index.ts';
import { mailgunSignature } from '../src/inbound/mailgun.ts';
import { startFeedbackEndpoint } from '../src/inbound/smtp-endpoint.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type HttpFake, startHttpFake, twilioMessage } from './fakes/http-fake.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, PUBLIC_BASE_URL, useSmtpRelay } from './harness.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'inbound');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const FIXTURE_ID = {
  postfix: '0b7c5a2e-4f1d-4c3b-9a8e-2d6f1e0c9b71',
  yahoo: '1f3a5c7e-9b0d-4e2f-8a4c-6e8a0c2e4f25',
  mailgun: '7d35f7a9-1c3d-4e5f-8a7b-9c1d3e5f7a82',
};
const TWILIO = { accountSid: 'AC0123456789abcdef0123456789abcdef', authToken: 'twilio-auth-token' };

type Org = ReturnType<typeof newOrg>;
const unique = (name: string, domain = 'example.net') => `${name}-${newId().slice(-12)}@${domain}`;

describe.each(OWN_DATABASES)('feedback from mail servers and providers (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;
  let twilioApi: HttpFake;
  let inbound: InboundServer;
  let http: RunningHttpServer;
  let engine: DeliveryEngine;

  beforeAll(async () => {
    env = await openDelivery(open);
    smtp = await startSmtpFake();
    twilioApi = await startHttpFake();
    twilioApi.route('POST', /^\/2010-04-01\/Accounts\/[^/]+\/Messages\.json$/, twilioMessage);
    inbound = await startFeedbackEndpoint(env.services, { port: 0, host: '127.0.0.1' });
    http = await startHttpServer(
      { service: 'delivery-test', logger: env.logger, routes: deliveryRoutes(env.services) },
      0,
      '127.0.0.1',
    );
    engine = startEngineFor(env);
  });
  afterEach(() => {
    smtp.reset();
    twilioApi.reset();
  });
  afterAll(async () => {
    await engine?.stop();
    await inbound?.close();
    await http?.close();
    await twilioApi?.close();
    await smtp?.close();
    await env?.close();
  });

  async function setUp() {
    const ctx = newOrg();
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'news',
        channel: 'email',
        category: 'transactional',
        source: { html: '<p>Hello</p>', subject: 'Hello', fromAddress: 'news@shop.example.com' },
      }),
    );
    await useSmtpRelay(env.services, ctx, smtp.port);
    return { ctx, template };
  }

  async function sendEmail(ctx: Org, templateId: string, to: string) {
    const message = unwrap(await env.services.sendMessage(ctx, 'email', { templateId, to, idempotencyKey: newId() }));
    await drain(engine);
    expect((await row(message.id)).status).toBe('sent');
    return message;
  }

  const row = async (id: string) =>
    (
      await env.handle.rows<{ status: string; not_before: Date; attempts: number; error: string | null }>(
        sql`select status, not_before, attempts, error from delivery.messages where id = ${id}`,
      )
    )[0]!;
  const suppressionsOf = (organizationId: string) =>
    env.handle.rows<{ channel: string; address: string; reason: string }>(
      sql`select channel, address, reason from delivery.suppressions where organization_id = ${organizationId}
          order by address`,
    );
  const events = (organizationId: string, type: string) =>
    env.handle.rows<{ data: Record<string, unknown> }>(
      sql`select envelope->'data' as data from delivery.outbox where organization_id = ${organizationId}
          and type = ${type} order by seq`,
    );

  /** Delivers a raw report to the inbound endpoint as a mail server would (null sender). */
  async function report(raw: string) {
    const transport = nodemailer.createTransport({
      host: inbound.host,
      port: inbound.port,
      secure: false,
      ignoreTLS: true,
    });
    try {
      const info = await transport.sendMail({
        envelope: { from: '', to: ['bounces@bounces.shop.example.com'] },
        raw: Buffer.from(raw),
      });
      expect(info.rejected).toEqual([]);
    } finally {
      transport.close();
    }
  }

  /** The Postfix DSN fixture about our message: `hard` gets 5.1.1, `soft` 5.2.2 (mailbox full). */
  const postfixDsn = (id: string, hard: string, soft: string) =>
    fixture('postfix-hard-5.1.1.eml')
      .replaceAll(FIXTURE_ID.postfix, id)
      .replaceAll('news.example-shop.com', 'shop.example.com')
      .replaceAll('Alice@Example.net', hard)
      .replaceAll('alice@example.net', hard)
      .replaceAll('bob@example.org', soft);

  it('a hard DSN bounce suppresses the address before the next send, and the message is bounced', async () => {
    const { ctx, template } = await setUp();
    const alice = unique('alice');
    const other = unique('bob', 'example.org');
    const sent = await sendEmail(ctx, template.id, alice);
    // The report also carries a soft bounce of another recipient with our id: not this message's.
    await report(postfixDsn(sent.id, alice, other));

    expect(await row(sent.id)).toMatchObject({ status: 'bounced' });
    expect(await suppressionsOf(ctx.organizationId)).toEqual([
      { channel: 'email', address: alice, reason: 'hard_bounce' },
    ]);
    const [bounced, ...more] = await events(ctx.organizationId, 'delivery.message.bounced');
    expect(more).toEqual([]);
    expect(bounced!.data).toMatchObject({
      messageId: sent.id,
      address: alice,
      bounceType: 'hard',
      bounceReason: 'user_unknown',
    });
    expect(String(bounced!.data.reason)).toContain('5.1.1');

    // Even a transactional message to the address is not sent again.
    smtp.reset();
    const next = unwrap(
      await env.services.sendMessage(ctx, 'email', { templateId: template.id, to: alice, idempotencyKey: newId() }),
    );
    await drain(engine);
    expect(smtp.messages).toEqual([]);
    expect(await row(next.id)).toMatchObject({ status: 'skipped', error: 'suppressed: hard_bounce' });
  });

  it('a soft bounce requeues the message for later and suppresses nothing', async () => {
    const { ctx, template } = await setUp();
    const bob = unique('bob', 'example.org');
    const sent = await sendEmail(ctx, template.id, bob);
    await report(postfixDsn(sent.id, unique('alice'), bob));

    const after = await row(sent.id);
    expect(after.status).toBe('queued');
    expect(new Date(after.not_before).getTime()).toBeGreaterThan(Date.now() + 10_000);
    expect(after.error).toContain('5.2.2');
    expect(await suppressionsOf(ctx.organizationId)).toEqual([]);
    const bounced = await events(ctx.organizationId, 'delivery.message.bounced');
    expect(bounced.map((e) => e.data.bounceType)).toEqual(['soft']);
  });

  it("a rejection caused by the sender (Gmail's DMARC 5.7.26) suppresses nothing, ends the message bounced without retrying, and counts against the sender", async () => {
    const { ctx, template } = await setUp();
    const carol = unique('carol', 'gmail.example');
    const sent = await sendEmail(ctx, template.id, carol);
    const dmarc =
      "550-5.7.26 Unauthenticated email from shop.example.com is not accepted due to domain's DMARC policy. 550 5.7.26 Please contact the administrator of shop.example.com domain";
    const dsn = postfixDsn(sent.id, carol, unique('bob', 'example.org'))
      .replace('Status: 5.1.1', 'Status: 5.7.26')
      .replace(
        /Diagnostic-Code: smtp; 550 5\.1\.1 <[^>]+>: Recipient address\n {4}rejected: User unknown in virtual mailbox table/,
        `Diagnostic-Code: smtp; ${dmarc}`,
      )
      .replace(
        /said: 550 5\.1\.1\n {4}<[^>]+>: Recipient address rejected: User unknown in virtual\n {4}mailbox table \(in reply to RCPT TO command\)/,
        `said: ${dmarc} (in reply to end of DATA command)`,
      );
    await report(dsn);

    const after = await row(sent.id);
    expect(after.status).toBe('bounced');
    expect(after.error).toMatch(/^policy_authentication 5\.7\.26/);
    expect(await suppressionsOf(ctx.organizationId)).toEqual([]);
    const [bounced] = await events(ctx.organizationId, 'delivery.message.bounced');
    expect(bounced!.data).toMatchObject({ bounceType: 'soft', bounceReason: 'policy_authentication' });
    const [stats] = unwrap(await env.services.deliveryStats(ctx, 'template', {}));
    expect(stats).toMatchObject({ bounced: 1, bouncedBySender: 1, bouncedDeadAddress: 0 });
  });

  it('an ARF complaint suppresses the address as a complaint', async () => {
    const { ctx, template } = await setUp();
    const dave = unique('dave', 'yahoo.com');
    const sent = await sendEmail(ctx, template.id, dave);
    await report(
      fixture('yahoo-arf.eml')
        .replaceAll(FIXTURE_ID.yahoo, sent.id)
        .replaceAll('Dave@yahoo.com', dave)
        .replaceAll('dave@yahoo.com', dave),
    );
    expect((await row(sent.id)).status).toBe('complained');
    expect(await suppressionsOf(ctx.organizationId)).toEqual([
      { channel: 'email', address: dave, reason: 'complaint' },
    ]);
    expect((await events(ctx.organizationId, 'delivery.message.complained'))[0]?.data).toMatchObject({
      messageId: sent.id,
      feedbackType: 'abuse',
    });
  });

  it('a report scoped to one organization cannot touch another organization`s message', async () => {
    const a = await setUp();
    const b = newOrg();
    const address = unique('zed');
    const sent = await sendEmail(a.ctx, a.template.id, address);
    const outcome = await env.services.applyFeedback(
      { kind: 'bounce', bounceType: 'hard', recipient: address, status: '5.1.1', messageId: sent.id },
      { organizationId: b.organizationId, source: 'webhook:mailgun' },
    );
    expect(outcome).toBe('unknown_message');
    expect((await row(sent.id)).status).toBe('sent');
    expect(await suppressionsOf(a.ctx.organizationId)).toEqual([]);
    expect(await suppressionsOf(b.organizationId)).toEqual([]);
    expect(await events(a.ctx.organizationId, 'delivery.message.bounced')).toEqual([]);
  });

  describe('provider webhooks', () => {
    const post = (path: string, body: string, headers: Record<string, string>) =>
      fetch(`${http.url.replace(/\/$/, '')}${path}`, { method: 'POST', headers, body });

    async function mailgunProvider(ctx: Org) {
      const provider = unwrap(
        await env.services.createProviderConfig(ctx, {
          name: 'mailgun',
          kind: 'mailgun',
          config: { domain: 'mg.shop.example.com', apiKey: 'key-api', webhookSigningKey: 'mailgun-signing-key' },
        }),
      );
      expect(env.services.secretFieldsSet(provider).sort()).toEqual(['apiKey', 'webhookSigningKey']);
      return provider;
    }

    const mailgunEvent = (messageId: string, recipient: string, key: string) => {
      const body = JSON.parse(
        fixture('mailgun-failed-permanent.json')
          .replaceAll(FIXTURE_ID.mailgun, messageId)
          .replaceAll('xena@example.com', recipient),
      );
      body.signature.timestamp = String(Math.floor(Date.now() / 1000));
      body.signature.signature = mailgunSignature(key, body.signature.timestamp, body.signature.token);
      return JSON.stringify(body);
    };

    it('Mailgun: a correctly signed bounce is applied; a wrong signature is refused and changes nothing', async () => {
      const { ctx, template } = await setUp();
      const provider = await mailgunProvider(ctx);
      const xena = unique('xena');
      const sent = await sendEmail(ctx, template.id, xena);
      const path = `/webhooks/mailgun?provider=${provider.id}`;
      const json = { 'content-type': 'application/json' };

      const forged = await post(path, mailgunEvent(sent.id, xena, 'not-the-key'), json);
      expect(forged.status).toBe(401);
      // The API key is not the signing key once a signing key is set.
      expect((await post(path, mailgunEvent(sent.id, xena, 'key-api'), json)).status).toBe(401);
      expect((await row(sent.id)).status).toBe('sent');
      expect(await suppressionsOf(ctx.organizationId)).toEqual([]);

      const signed = await post(path, mailgunEvent(sent.id, xena, 'mailgun-signing-key'), json);
      expect(signed.status).toBe(200);
      expect(await signed.json()).toEqual({ applied: 1, unknown: 0 });
      expect((await row(sent.id)).status).toBe('bounced');
      expect(await suppressionsOf(ctx.organizationId)).toEqual([
        { channel: 'email', address: xena, reason: 'hard_bounce' },
      ]);
    });

    it("Mailgun: one organization's provider cannot report on another organization's message", async () => {
      const a = await setUp();
      const b = newOrg();
      const provider = await mailgunProvider(b);
      const xena = unique('xena');
      const sent = await sendEmail(a.ctx, a.template.id, xena);
      const response = await post(
        `/webhooks/mailgun?provider=${provider.id}`,
        mailgunEvent(sent.id, xena, 'mailgun-signing-key'),
        { 'content-type': 'application/json' },
      );
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ applied: 0, unknown: 1 });
      expect((await row(sent.id)).status).toBe('sent');
      expect(await suppressionsOf(a.ctx.organizationId)).toEqual([]);
    });

    it('SendGrid and SES webhooks without verification settings are refused', async () => {
      const { ctx } = await setUp();
      const sendgrid = unwrap(
        await env.services.createProviderConfig(ctx, { name: 'sg', kind: 'sendgrid', config: { apiKey: 'SG.x' } }),
      );
      const ses = unwrap(
        await env.services.createProviderConfig(ctx, {
          name: 'ses',
          kind: 'ses',
          config: { region: 'eu-west-1', accessKeyId: 'AKIA', secretAccessKey: 'secret' },
        }),
      );
      const events = fixture('sendgrid-events.json');
      expect((await post(`/webhooks/sendgrid?provider=${sendgrid.id}`, events, {})).status).toBe(401);
      expect((await post(`/webhooks/ses?provider=${ses.id}`, fixture('ses-bounce-permanent.json'), {})).status).toBe(
        401,
      );
      // The verification settings are accepted and kept.
      const configured = unwrap(
        await env.services.updateProviderConfig(ctx, {
          id: ses.id,
          config: { topicArns: ['arn:aws:sns:eu-west-1:123456789012:ses-feedback'] },
        }),
      );
      expect(configured.settings).toMatchObject({ topicArns: ['arn:aws:sns:eu-west-1:123456789012:ses-feedback'] });
      const key = unwrap(
        await env.services.updateProviderConfig(ctx, { id: sendgrid.id, config: { webhookPublicKey: 'MFkw' } }),
      );
      expect(key.settings).toMatchObject({ webhookPublicKey: 'MFkw' });
    });

    it('Twilio: SMS carry a status callback whose signed reports mark them delivered or bounced', async () => {
      const ctx = newOrg();
      const template = unwrap(
        await env.services.createTemplate(ctx, {
          name: 'code',
          channel: 'sms',
          category: 'transactional',
          source: { body: 'Your code is {{context.code}}' },
        }),
      );
      const provider = unwrap(
        await env.services.createProviderConfig(ctx, {
          name: 'twilio',
          kind: 'twilio',
          config: { ...TWILIO, from: '+15017122661', baseUrl: twilioApi.url },
          isDefault: true,
        }),
      );
      const phone = () => `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
      const [ok, gone] = [phone(), phone()];
      const send = async (to: string) =>
        unwrap(
          await env.services.sendMessage(ctx, 'sms', {
            templateId: template.id,
            to,
            context: { code: '1234' },
            idempotencyKey: newId(),
          }),
        );
      const first = await send(ok);
      const second = await send(gone);
      await drain(engine);
      expect((await row(first.id)).status).toBe('sent');
      const callbacks = new Map(twilioApi.requests.map((r) => [r.form().get('To'), r.form().get('StatusCallback')]));
      expect(callbacks.get(ok)).toBe(`${PUBLIC_BASE_URL}/webhooks/twilio?provider=${provider.id}&m=${first.id}`);

      const status = async (callback: string, params: Record<string, string>, token = TWILIO.authToken) => {
        const url = new URL(callback);
        return post(`${url.pathname}${url.search}`, new URLSearchParams(params).toString(), {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': twilio.getExpectedTwilioSignature(token, callback, params),
        });
      };
      const base = { AccountSid: TWILIO.accountSid, From: '+15017122661', ApiVersion: '2010-04-01' };

      const forged = await status(
        callbacks.get(gone)!,
        { ...base, MessageSid: 'SM2', MessageStatus: 'undelivered', ErrorCode: '30005', To: gone },
        'wrong-token',
      );
      expect(forged.status).toBe(401);
      expect((await row(second.id)).status).toBe('sent');

      const delivered = await status(callbacks.get(ok)!, {
        ...base,
        MessageSid: 'SM1',
        MessageStatus: 'delivered',
        To: ok,
      });
      expect(delivered.status).toBe(200);
      expect((await row(first.id)).status).toBe('delivered');
      expect(await events(ctx.organizationId, 'delivery.message.delivered')).toHaveLength(1);

      const undelivered = await status(callbacks.get(gone)!, {
        ...base,
        MessageSid: 'SM2',
        MessageStatus: 'undelivered',
        ErrorCode: '30005',
        To: gone,
      });
      expect(undelivered.status).toBe(200);
      expect((await row(second.id)).status).toBe('bounced');
      expect(await suppressionsOf(ctx.organizationId)).toEqual([
        { channel: 'sms', address: gone, reason: 'hard_bounce' },
      ]);
    });
  });
});
