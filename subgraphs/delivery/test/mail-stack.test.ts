// The mail stack (mail-stack/configure.sh): one Postfix instance per sending address, which
// scripts/services.sh starts on 127.0.0.2 (mta1.mauntic.test) and 127.0.0.3 (mta2.mauntic.test).
// Mail the engine hands to an instance leaves from that instance's address under its name; a
// dead address the stack bounces comes back through the instance by LMTP to delivery's inbound
// endpoint, reaches its message by the VERP return path and suppresses the address; a policy
// rejection bounces the message and suppresses nothing. The instances route <name>.observe.mauntic.test
// to the observer below (services.sh), which takes seen.* and refuses gone.* (550 5.1.1) and
// policy.* (550 5.7.26, Gmail's DMARC refusal) after Postfix has accepted the message, so Postfix bounces them back.
import { randomBytes } from 'node:crypto';
import { newId, unwrap } from '@mauntic/kernel';
import { eventually } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InboundServer } from '../src/inbound/inbound-server.ts';
import { startFeedbackEndpoint } from '../src/inbound/smtp-endpoint.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery } from './harness.ts';

/** `ip:port=name`, comma-separated (`scripts/services.sh env`). */
const INSTANCES = (
  process.env.MAIL_STACK_INSTANCES ?? '127.0.0.2:2526=mta1.mauntic.test,127.0.0.3:2526=mta2.mauntic.test'
)
  .split(',')
  .map((entry) => {
    const [address, name] = entry.split('=') as [string, string];
    const [ip, port] = address.split(':') as [string, string];
    return { ip, port: Number(port), name };
  });
const LMTP_PORT = Number(process.env.MAIL_STACK_LMTP_PORT ?? 2530);
const OBSERVE_PORT = Number(process.env.MAIL_STACK_OBSERVE_PORT ?? 2529);

describe('the mail stack: one Postfix instance per sending IP', () => {
  const [, open] = OWN_DATABASES[0];
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let observer: SmtpFake;
  let inbound: InboundServer;

  beforeAll(async () => {
    env = await openDelivery(open);
    observer = await startSmtpFake({
      port: OBSERVE_PORT,
      refuse: (address) => {
        const domain = address.split('@')[1];
        if (domain === 'gone.observe.mauntic.test')
          return { code: 550, text: '5.1.1 The email account does not exist' };
        if (domain === 'policy.observe.mauntic.test') {
          return {
            code: 550,
            text: "5.7.26 Unauthenticated email from this domain is not accepted due to the domain's DMARC policy",
          };
        }
        return undefined;
      },
    });
    inbound = await startFeedbackEndpoint(env.services, { port: LMTP_PORT, host: '127.0.0.1', lmtp: true });
  });
  afterAll(async () => {
    await inbound?.close();
    await observer?.close();
    await env?.close();
  });

  /** An organization with a sending domain whose default provider is the given instance, and one email sent to `to`. */
  async function sendThrough(instance: (typeof INSTANCES)[number], to: string) {
    const ctx = newOrg();
    const domain = `d${randomBytes(5).toString('hex')}.test`;
    unwrap(await env.services.addSendingDomain(ctx, { domain }));
    unwrap(await env.services.updateSettings(ctx, { defaultFromAddress: `hello@${domain}` }));
    unwrap(
      await env.services.createProviderConfig(ctx, {
        name: `postfix ${instance.ip}`,
        kind: 'smtp',
        config: { host: instance.ip, port: instance.port },
        isDefault: true,
      }),
    );
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'receipt',
        channel: 'email',
        category: 'transactional',
        source: { html: '<p>Your receipt</p>', subject: 'Receipt' },
      }),
    );
    const message = unwrap(
      await env.services.sendMessage(ctx, 'email', { templateId: template.id, to, idempotencyKey: newId() }),
    );
    await drain(startEngineFor(env));
    const accepted = unwrap(await env.services.getMessage(ctx, message.id));
    expect(accepted?.status).toBe('sent');
    return { ctx, domain, message };
  }

  const statusOf = async (ctx: ReturnType<typeof newOrg>, id: string, wanted: string) =>
    eventually(`message ${id} ${wanted}`, async () => {
      const message = unwrap(await env.services.getMessage(ctx, id));
      return message?.status === wanted ? message : undefined;
    });
  const suppressions = (ctx: ReturnType<typeof newOrg>) =>
    env.handle.rows<{ address: string; reason: string }>(
      sql`select address, reason from delivery.suppressions where organization_id = ${ctx.organizationId}`,
    );

  it.each(INSTANCES)(
    'mail handed to $ip leaves from $ip as $name, signed, with its VERP return path',
    async (instance) => {
      const to = `reader-${newId()}@seen.observe.mauntic.test`;
      const { domain, message } = await sendThrough(instance, to);
      const seen = await eventually(`${to} at the observer`, async () =>
        observer.messages.find((m) => m.rcptTo.includes(to)),
      );
      expect(seen.remoteAddress).toBe(instance.ip);
      expect(seen.helo).toBe(instance.name);
      expect(seen.mailFrom).toBe(`bounces+${message.id}@bounces.${domain}`);
      expect(seen.raw.toString('latin1')).toMatch(/^DKIM-Signature: /m);
      expect(seen.raw.toString('latin1')).toContain(`by ${instance.name} (Postfix)`);
    },
  );

  it('a dead address the stack bounces comes back by LMTP, bounces its message and is suppressed', async () => {
    const to = `reader-${newId()}@gone.observe.mauntic.test`;
    const { ctx, message } = await sendThrough(INSTANCES[0]!, to);
    await statusOf(ctx, message.id, 'bounced');
    expect(await suppressions(ctx)).toEqual([{ address: to, reason: 'hard_bounce' }]);
  });

  it("a policy rejection comes back the same way, bounces its message as the sender's fault and suppresses nothing", async () => {
    const to = `reader-${newId()}@policy.observe.mauntic.test`;
    const { ctx, domain, message } = await sendThrough(INSTANCES[1]!, to);
    const bounced = await statusOf(ctx, message.id, 'bounced');
    expect(bounced.bounceReason).toBe('policy_authentication');
    expect(await suppressions(ctx)).toEqual([]);
    // It counts against the sending domain's reputation instead.
    const reputation = await env.handle.rows<{ kind: string; subject: string; points: number }>(
      sql`select kind, subject, points from delivery.sending_reputation where organization_id = ${ctx.organizationId}`,
    );
    expect(reputation).toEqual([{ kind: 'domain', subject: domain, points: expect.any(Number) }]);
    expect(reputation[0]!.points).toBeGreaterThan(0);
  });
});
