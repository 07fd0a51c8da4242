// A POSTFIX provider sends each email to the platform's Postfix instance of the IP its pool chose:
// here 127.0.0.2's instance is the real Postfix of scripts/services.sh (SMTP_POSTFIX_URL), which
// answers "queued as <queue id>", and 127.0.0.3's a node SMTP server; the message records the IP
// and the instance's queue id.
import { newId, unwrap } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsLookup } from '../src/app/dns.ts';
import { parseDeliveryEnvironment } from '../src/environment.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { DATABASES, newOrg, openDelivery } from './harness.ts';

const postfix = new URL(process.env.SMTP_POSTFIX_URL ?? 'smtp://127.0.0.1:2526');

describe('POSTFIX provider', () => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let other: SmtpFake;

  beforeAll(async () => {
    env = await openDelivery(DATABASES[1][1], () => new Date(), {
      mail: {
        dns: dnsLookup(),
        platform: {
          sendingIps: [
            { ip: '127.0.0.2', hostname: 'mta1.mauntic.test' },
            { ip: '127.0.0.3', hostname: 'mta2.mauntic.test' },
          ],
          bounceHost: 'inbound.mauntic.test',
        },
      },
    });
    other = await startSmtpFake();
  });
  afterAll(async () => {
    await other?.close();
    await env?.close();
  });

  it('reads its instances from DELIVERY_POSTFIX_INSTANCES, and refuses a malformed entry', () => {
    const keys = {
      DELIVERY_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      TRACKING_SECRET: 'x'.repeat(32),
    };
    const parsed = parseDeliveryEnvironment({
      ...keys,
      DELIVERY_POSTFIX_INSTANCES: '127.0.0.2=postfix-0.postfix:25, 127.0.0.3=postfix-1.postfix:25',
    });
    expect(parsed.delivery.DELIVERY_POSTFIX_INSTANCES).toEqual([
      { ip: '127.0.0.2', host: 'postfix-0.postfix', port: 25 },
      { ip: '127.0.0.3', host: 'postfix-1.postfix', port: 25 },
    ]);
    expect(() => parseDeliveryEnvironment({ ...keys, DELIVERY_POSTFIX_INSTANCES: 'postfix-0:25' })).toThrow(
      /DELIVERY_POSTFIX_INSTANCES/,
    );
  });

  it('sends each email through the instance of the IP its pool chose', async () => {
    const ctx = newOrg();
    unwrap(
      await env.services.createProviderConfig(ctx, { name: 'stack', kind: 'postfix', config: {}, isDefault: true }),
    );
    const pool = unwrap(await env.services.createIpPool(ctx, { name: 'main', isDefault: true }));
    // 127.0.0.2 weighs 1,000 times more but may send 5 an hour: the rest fails over to 127.0.0.3.
    unwrap(
      await env.services.addPoolIp(ctx, {
        poolId: pool.id,
        ip: '127.0.0.2',
        weight: 1000,
        warmup: { daily: [5], growth: 1, hourlyShare: 1 },
      }),
    );
    unwrap(await env.services.addPoolIp(ctx, { poolId: pool.id, ip: '127.0.0.3', warmup: null }));
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'receipt',
        channel: 'email',
        category: 'transactional',
        source: { html: '<p>Thanks</p>', subject: 'Receipt' },
      }),
    );
    const sent = [];
    for (let i = 0; i < 12; i++)
      sent.push(
        unwrap(
          await env.services.sendMessage(ctx, 'email', {
            templateId: template.id,
            to: `r${i}.${newId().slice(-6)}@example.com`,
            idempotencyKey: newId(),
          }),
        ),
      );
    await drain(
      startEngineFor(env, {
        postfixInstances: [
          { ip: '127.0.0.2', host: postfix.hostname, port: Number(postfix.port) },
          { ip: '127.0.0.3', host: '127.0.0.1', port: other.port },
        ],
      }),
    );
    const rows = await env.handle.rows<{
      address: string;
      status: string;
      sending_ip: string;
      provider_message_id: string;
    }>(
      sql`select address, status, sending_ip, provider_message_id from delivery.messages where organization_id = ${ctx.organizationId}`,
    );
    expect(rows.map((r) => r.status)).toEqual(Array(12).fill('sent'));
    const byIp = (ip: string) => rows.filter((r) => r.sending_ip === ip);
    expect(byIp('127.0.0.2')).toHaveLength(5);
    expect(byIp('127.0.0.3')).toHaveLength(7);
    // 127.0.0.2's went to Postfix (its queue ids), 127.0.0.3's to the other instance ("queued as Q<n>").
    for (const r of byIp('127.0.0.2')) expect(r.provider_message_id).toMatch(/^[0-9A-Za-z]{8,}$/);
    for (const r of byIp('127.0.0.3')) expect(r.provider_message_id).toMatch(/^Q\d+$/);
    expect(other.messages.map((m) => m.rcptTo[0]).sort()).toEqual(
      byIp('127.0.0.3')
        .map((r) => r.address)
        .sort(),
    );
  });
});
