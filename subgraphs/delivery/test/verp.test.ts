// VERP: every email the engine sends from a sending domain goes with the return path
// bounces+<message id>@<return path domain>, and a bounce sent back to that address reaches its
// message through the inbound SMTP endpoint even when it quotes nothing of it, names no address,
// or both: the message is marked bounced and a dead address suppressed.
import { randomBytes } from 'node:crypto';
import { newId, unwrap } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundServer } from '../src/inbound/inbound-server.ts';
import { startFeedbackEndpoint } from '../src/inbound/smtp-endpoint.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, useSmtpRelay } from './harness.ts';

/** Bounces that quote nothing of the message: no original headers, no Message-ID, no X-Mauntic-Message. */
const BOUNCES = {
  'a text bounce that names no address': () =>
    [
      'From: Mail Delivery System <MAILER-DAEMON@mx.example.com>',
      'To: undisclosed-recipients:;',
      'Subject: Undelivered Mail Returned to Sender',
      'Content-Type: text/plain; charset=us-ascii',
      '',
      'This is the mail system at host mx.example.com.',
      'Your message could not be delivered to one or more recipients.',
      '550 5.1.1 The email account that you tried to reach does not exist.',
      '',
    ].join('\r\n'),
  'a delivery status report without the returned headers': (recipient: string) =>
    [
      'From: MAILER-DAEMON@mx.example.com',
      'To: undisclosed-recipients:;',
      'Subject: Delivery Status Notification (Failure)',
      'MIME-Version: 1.0',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain',
      '',
      'Delivery to the following recipient failed permanently.',
      '--b1',
      'Content-Type: message/delivery-status',
      '',
      'Reporting-MTA: dns; mx.example.com',
      '',
      `Final-Recipient: rfc822; ${recipient}`,
      'Action: failed',
      'Status: 5.1.1',
      'Diagnostic-Code: smtp; 550 5.1.1 user unknown',
      '',
      '--b1--',
      '',
    ].join('\r\n'),
};

describe.each(OWN_DATABASES)('VERP return paths and bounces (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;
  let inbound: InboundServer;

  beforeAll(async () => {
    env = await openDelivery(open);
    smtp = await startSmtpFake();
    inbound = await startFeedbackEndpoint(env.services, { port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    await inbound?.close();
    await smtp?.close();
    await env?.close();
  });

  it.each(Object.entries(BOUNCES))(
    '%s, sent back to the VERP address, bounces its message and suppresses the address',
    async (_kind, bounce) => {
      const ctx = newOrg();
      const domain = `d${randomBytes(5).toString('hex')}.test`;
      unwrap(await env.services.addSendingDomain(ctx, { domain, returnPathDomain: `rp.${domain}` }));
      unwrap(await env.services.updateSettings(ctx, { defaultFromAddress: `hello@${domain}` }));
      await useSmtpRelay(env.services, ctx, smtp.port);
      const template = unwrap(
        await env.services.createTemplate(ctx, {
          name: 'receipt',
          channel: 'email',
          category: 'transactional',
          source: { html: '<p>Your receipt</p>', subject: 'Receipt' },
        }),
      );
      const to = `gone-${newId()}@example.com`;
      const message = unwrap(
        await env.services.sendMessage(ctx, 'email', { templateId: template.id, to, idempotencyKey: newId() }),
      );
      await drain(startEngineFor(env));
      const sent = smtp.messages.find((m) => m.rcptTo[0] === to);
      expect(sent?.mailFrom).toBe(`bounces+${message.id}@rp.${domain}`);
      expect(sent?.raw.toString('latin1')).toMatch(/^DKIM-Signature: /);

      const raw = bounce(to);
      expect(raw).not.toContain(message.id);
      const transport = nodemailer.createTransport({
        host: '127.0.0.1',
        port: inbound.port,
        secure: false,
        ignoreTLS: true,
      });
      await transport.sendMail({ envelope: { from: '', to: [sent!.mailFrom] }, raw });
      transport.close();

      const after = unwrap(await env.services.getMessage(ctx, message.id));
      expect(after?.status).toBe('bounced');
      const suppressed = await env.handle.rows<{ address: string; reason: string }>(
        sql`select address, reason from delivery.suppressions where organization_id = ${ctx.organizationId}`,
      );
      expect(suppressed).toEqual([{ address: to, reason: 'hard_bounce' }]);
    },
  );
});
