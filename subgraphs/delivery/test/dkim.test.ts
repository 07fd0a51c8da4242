// Email leaves signed and bounce-addressed: every message from a sending domain carries an RSA-2048
// and an Ed25519 DKIM signature over From, To, Subject, Date, Message-ID and the one-click
// unsubscribe pair, and a VERP return path naming the message. Checked the way a receiver does,
// with mailauth against the domain's records published on a real authoritative DNS server (NSD,
// scripts/services.sh): SPF, DKIM and DMARC pass for marketing and transactional email alike.
import { randomBytes } from 'node:crypto';
import { newId, unwrap } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsLookup } from '../src/app/dns.ts';
import type { MailPlatform } from '../src/domain/sending-domain.ts';
import { DNS_SERVER, publishZone, testResolver } from './dns-zone.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, useSmtpRelay } from './harness.ts';

// mailauth ships no types for its entry point.
const { authenticate } = (await import('mailauth')) as unknown as {
  authenticate(
    raw: Buffer,
    options: Record<string, unknown>,
  ): Promise<{
    dkim: {
      results: {
        status: { result: string; aligned?: string };
        signingDomain: string;
        selector: string;
        algo: string;
        signingHeaders: { keys: string };
      }[];
    };
    spf: { status: { result: string } };
    dmarc: { status: { result: string } };
  }>;
};

/** The platform's two sending addresses and their PTR names, as services.sh's base zone has them. */
const PLATFORM: MailPlatform = {
  sendingIps: [
    { ip: '127.0.0.2', hostname: 'mta1.mauntic.test' },
    { ip: '127.0.0.3', hostname: 'mta2.mauntic.test' },
  ],
  bounceHost: 'inbound.mauntic.test',
};

const resolver = testResolver();
const resolve = (name: string, type: string) => resolver.resolve(name, type);

describe.each(OWN_DATABASES)('DKIM, SPF and DMARC of sent email (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;

  beforeAll(async () => {
    env = await openDelivery(open, () => new Date(), { mail: { dns: dnsLookup([DNS_SERVER]), platform: PLATFORM } });
    smtp = await startSmtpFake();
  });
  afterAll(async () => {
    await smtp?.close();
    await env?.close();
  });

  /** An organization with a sending domain whose records are published (or not) and checked. */
  async function domainFor() {
    const ctx = newOrg();
    const domain = `d${randomBytes(5).toString('hex')}.test`;
    const added = unwrap(await env.services.addSendingDomain(ctx, { domain }));
    await publishZone(
      domain,
      added.records.filter((r) => r.kind !== 'ptr'),
    );
    const checked = unwrap(await env.services.verifySendingDomain(ctx, { id: added.id }));
    await useSmtpRelay(env.services, ctx, smtp.port);
    unwrap(await env.services.updateSettings(ctx, { defaultFromAddress: `news@${domain}` }));
    return { ctx, domain, checked };
  }

  async function send(ctx: ReturnType<typeof newOrg>, category: 'marketing' | 'transactional', source = {}) {
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: `${category}-${newId()}`,
        channel: 'email',
        category,
        source: {
          html: '<p>Hello {{contact.email}} <a href="https://shop.example.com/a">a</a></p>',
          subject: 'Hi',
          ...source,
        },
      }),
    );
    return unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: `kim+${newId()}@example.com`,
        idempotencyKey: newId(),
      }),
    );
  }

  it('a domain whose records are all published verifies; its keys are one RSA and one Ed25519', async () => {
    const { checked } = await domainFor();
    expect(checked.status).toBe('verified');
    expect(checked.records.filter((r) => r.kind !== 'ptr').every((r) => r.check?.ok)).toBe(true);
    expect(checked.records.find((r) => r.kind === 'ptr' && r.value === 'mta1.mauntic.test')?.check?.ok).toBe(true);
    expect(checked.keys.map((k) => [k.algorithm, k.status]).sort()).toEqual([
      ['ed25519-sha256', 'active'],
      ['rsa-sha256', 'active'],
    ]);
  });

  it('marketing and transactional email pass SPF, DKIM (RSA and Ed25519) and DMARC at a receiver', async () => {
    const { ctx, domain } = await domainFor();
    const sent = [
      await send(ctx, 'marketing'),
      await send(ctx, 'transactional'),
      await send(ctx, 'marketing', { fromAddress: `offers@${domain}`, fromName: 'Offers' }),
    ];
    await drain(startEngineFor(env));
    for (const message of sent) {
      const mail = smtp.messages.find((m) => m.rcptTo[0] === message.address);
      expect(mail, message.address).toBeDefined();
      expect(mail!.mailFrom).toBe(`bounces+${message.id}@bounces.${domain}`);
      const result = await authenticate(mail!.raw, {
        ip: '127.0.0.2',
        helo: 'mta1.mauntic.test',
        sender: mail!.mailFrom,
        mta: 'mx.example.com',
        resolver: resolve,
        disableArc: true,
        disableBimi: true,
      });
      expect(result.spf.status.result).toBe('pass');
      expect(result.dmarc.status.result).toBe('pass');
      expect(result.dkim.results.map((r) => [r.algo, r.status.result, r.signingDomain]).sort()).toEqual([
        ['ed25519-sha256', 'pass', domain],
        ['rsa-sha256', 'pass', domain],
      ]);
      const signed = result.dkim.results[0]!.signingHeaders.keys.toLowerCase().split(/:\s*/);
      for (const name of ['from', 'to', 'subject', 'date', 'message-id']) expect(signed).toContain(name);
      const marketing = message !== sent[1];
      expect(signed.includes('list-unsubscribe') && signed.includes('list-unsubscribe-post')).toBe(marketing);
    }
  });

  it('a changed header breaks the signatures: they cover what the receiver reads', async () => {
    const { ctx } = await domainFor();
    const message = await send(ctx, 'marketing');
    await drain(startEngineFor(env));
    const mail = smtp.messages.find((m) => m.rcptTo[0] === message.address)!;
    const tampered = Buffer.from(
      mail.raw
        .toString('latin1')
        .replace(/^List-Unsubscribe:\s*<[^>]+>/m, 'List-Unsubscribe: <https://evil.example/u>'),
      'latin1',
    );
    expect(tampered.equals(mail.raw)).toBe(false);
    const result = await authenticate(tampered, {
      ip: '127.0.0.2',
      helo: 'mta1.mauntic.test',
      sender: mail.mailFrom,
      resolver: resolve,
      disableArc: true,
      disableBimi: true,
    });
    expect(result.dkim.results.map((r) => r.status.result)).toEqual(['fail', 'fail']);
  });

  it('a domain missing its DKIM records does not verify, and the engine fails marketing email queued from it while transactional goes', async () => {
    // Queued before the domain was added (the API refuses it afterwards: sending-domains.test.ts),
    // so the engine is the one that holds the line.
    const ctx = newOrg();
    const domain = `d${randomBytes(5).toString('hex')}.test`;
    await useSmtpRelay(env.services, ctx, smtp.port);
    unwrap(await env.services.updateSettings(ctx, { defaultFromAddress: `news@${domain}` }));
    const marketing = await send(ctx, 'marketing');
    const transactional = await send(ctx, 'transactional');
    const added = unwrap(await env.services.addSendingDomain(ctx, { domain }));
    await publishZone(
      domain,
      added.records.filter((r) => r.kind !== 'ptr' && r.kind !== 'dkim'),
    );
    const checked = unwrap(await env.services.verifySendingDomain(ctx, { id: added.id }));
    expect(checked.status).toBe('pending');
    expect(checked.records.filter((r) => r.kind === 'dkim').map((r) => r.check?.ok)).toEqual([false, false]);
    await drain(startEngineFor(env));
    const after = unwrap(await env.services.getMessage(ctx, marketing.id));
    expect(after?.status).toBe('failed');
    expect(after?.error).toMatch(/^unverified_sending_domain/);
    expect(smtp.messages.some((m) => m.rcptTo[0] === marketing.address)).toBe(false);
    expect(smtp.messages.some((m) => m.rcptTo[0] === transactional.address)).toBe(true);
  });
});
