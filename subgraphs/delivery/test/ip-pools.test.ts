// Sending IPs, warm-up and reputation, end to end through the real engine with an injected clock:
// email leaves from the pool's IPs (the SMTP connection bound to 127.0.0.2 / 127.0.0.3, as the
// receiving server sees it), within each IP's caps per provider group per hour and per day;
// what is over the caps waits for the next window and goes then; deferrals, sender-caused
// bounces and complaints lower an IP's (and a domain's) score, which throttles, then pauses it,
// its messages going to the pool's other IP. On Postgres with the counters in Redis, and on
// PGlite with the counters in memory (embedded mode).
import { newId, unwrap } from '@mauntic/kernel';
import { testServices } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsLookup } from '../src/app/dns.ts';
import { createMemoryWarmupCounters, createRedisWarmupCounters, type WarmupCounters } from '../src/app/sending-ips.ts';
import type { MailPlatform } from '../src/domain/sending-domain.ts';
import { providerGroupOf, warmupCaps } from '../src/domain/warmup.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, useSmtpRelay } from './harness.ts';

const PLATFORM: MailPlatform = {
  sendingIps: [
    { ip: '127.0.0.2', hostname: 'mta1.mauntic.test' },
    { ip: '127.0.0.3', hostname: 'mta2.mauntic.test' },
  ],
  bounceHost: 'inbound.mauntic.test',
};
const DAY_1 = '2031-03-04';
/** 8 a day to each provider group on day 1, 4 an hour; 16 a day on day 2. */
const SMALL_CURVE = { daily: [8], growth: 2, hourlyShare: 0.5 };

let redis: Redis;
beforeAll(() => {
  redis = new Redis(testServices.redisUrl);
});
afterAll(() => redis?.disconnect());

const SETUPS = [
  [OWN_DATABASES[0][0], OWN_DATABASES[0][1], () => createRedisWarmupCounters(redis)],
  [OWN_DATABASES[1][0], OWN_DATABASES[1][1], () => createMemoryWarmupCounters()],
] as const;

describe('warm-up curves', () => {
  it("BillionMail's default curve: 1,000 to 10,000 a day over 7 days, then ×1.3 a day", () => {
    const curve = { daily: [1000, 2500, 4000, 5500, 7000, 8500, 10000], growth: 1.3, hourlyShare: 0.1 };
    const on = (day: string) => warmupCaps(curve, '2031-03-01', new Date(`${day}T12:00:00Z`));
    expect(on('2031-02-28')).toEqual({ day: 0, hour: 0 });
    expect(on('2031-03-01')).toEqual({ day: 1000, hour: 100 });
    expect(on('2031-03-07').day).toBe(10000);
    expect(on('2031-03-08').day).toBe(13000);
    expect(on('2031-03-09').day).toBe(16900);
    expect(on('2031-06-01')).toEqual({ day: Infinity, hour: Infinity });
  });

  it('recipients fall into provider groups by domain', () => {
    expect(
      ['a@gmail.com', 'a@GoogleMail.com', 'a@outlook.com', 'a@hotmail.co.uk', 'a@live.fr', 'a@msn.com'].map(
        providerGroupOf,
      ),
    ).toEqual(['gmail', 'gmail', 'microsoft', 'microsoft', 'microsoft', 'microsoft']);
    expect(['a@yahoo.com', 'a@yahoo.co.jp', 'a@aol.com', 'a@ymail.com', 'a@example.com'].map(providerGroupOf)).toEqual([
      'yahoo',
      'yahoo',
      'yahoo',
      'yahoo',
      'other',
    ]);
  });
});

describe.each(SETUPS)('IP pools and warm-up (%s)', (_name, open, counters) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;
  let clock = new Date(`${DAY_1}T10:30:00Z`);
  let warmup: WarmupCounters;

  beforeAll(async () => {
    env = await openDelivery(open, () => clock, { mail: { dns: dnsLookup(), platform: PLATFORM } });
    smtp = await startSmtpFake();
    warmup = counters();
  });
  afterAll(async () => {
    await smtp?.close();
    await env?.close();
  });

  /** Runs the engine at the test's clock until nothing is due. */
  const run = () => drain(startEngineFor(env, { now: () => clock, warmupCounters: warmup }));

  /** An organization sending through the fake relay, with a default pool of these IPs. */
  async function orgWithPool(
    ips: { ip: string; weight?: number; warm?: boolean }[],
    curve: typeof SMALL_CURVE = SMALL_CURVE,
  ) {
    const ctx = newOrg();
    await useSmtpRelay(env.services, ctx, smtp.port);
    const pool = unwrap(await env.services.createIpPool(ctx, { name: 'main', isDefault: true }));
    for (const { ip, weight, warm } of ips)
      unwrap(
        await env.services.addPoolIp(ctx, {
          poolId: pool.id,
          ip,
          weight: weight ?? 1,
          warmupStartedOn: DAY_1,
          warmup: warm ? null : curve,
        }),
      );
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'receipt',
        channel: 'email',
        category: 'transactional',
        source: { html: '<p>Thanks</p>', subject: 'Receipt' },
      }),
    );
    const send = async (to: string) =>
      unwrap(await env.services.sendMessage(ctx, 'email', { templateId: template.id, to, idempotencyKey: newId() }));
    return { ctx, pool, send };
  }

  /** What the relay received for these recipients, by sending IP and provider group. */
  function received(addresses: string[]) {
    const wanted = new Set(addresses);
    const counts: Record<string, number> = {};
    for (const m of smtp.messages) {
      const to = m.rcptTo[0]!;
      if (!wanted.has(to)) continue;
      const key = `${m.remoteAddress}|${providerGroupOf(to)}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  async function statuses(organizationId: string) {
    return env.handle.rows<{
      address: string;
      status: string;
      not_before: string;
      attempts: number;
      error: string | null;
      sending_ip: string | null;
    }>(sql`
      select address, status, not_before::text, attempts, error, sending_ip
      from delivery.messages where organization_id = ${organizationId}`);
  }

  /** The database's clock is real: messages waiting for the test clock's next window are made due. */
  const windowPassed = (organizationId: string) =>
    env.handle.rows(sql`
      update delivery.messages set not_before = now() - interval '1 second'
      where organization_id = ${organizationId} and status = 'queued'`);

  it('caps hold per IP and provider group across an hour and a day boundary; what is over waits for the window', async () => {
    clock = new Date(`${DAY_1}T10:30:00Z`);
    const { ctx, send } = await orgWithPool([{ ip: '127.0.0.2' }, { ip: '127.0.0.3' }]);
    const tag = newId().slice(-8);
    const addresses = ['gmail.com', 'outlook.com'].flatMap((domain) =>
      Array.from({ length: 20 }, (_, i) => `u${i}.${tag}@${domain}`),
    );
    for (const to of addresses) await send(to);

    // 10:30, day 1: 4 an hour per IP and group.
    await run();
    expect(received(addresses)).toEqual({
      '127.0.0.2|gmail': 4,
      '127.0.0.3|gmail': 4,
      '127.0.0.2|microsoft': 4,
      '127.0.0.3|microsoft': 4,
    });
    let rows = await statuses(ctx.organizationId);
    const waiting = rows.filter((r) => r.status === 'queued');
    expect(waiting).toHaveLength(24);
    // Delayed, not tried, not failed: due at the next hour.
    for (const r of waiting) {
      expect(new Date(r.not_before).toISOString()).toBe(`${DAY_1}T11:00:00.000Z`);
      expect(r.attempts).toBe(0);
      expect(r.error).toBeNull();
    }
    // Each sent message records the IP it left from, the one the relay saw.
    for (const r of rows.filter((r) => r.status === 'sent')) {
      const mail = smtp.messages.find((m) => m.rcptTo[0] === r.address)!;
      expect(r.sending_ip).toBe(mail.remoteAddress);
    }

    // 11:05: the next hour's 4 per IP and group fill each IP's day (8); the rest waits for tomorrow.
    clock = new Date(`${DAY_1}T11:05:00Z`);
    await windowPassed(ctx.organizationId);
    await run();
    expect(received(addresses)).toEqual({
      '127.0.0.2|gmail': 8,
      '127.0.0.3|gmail': 8,
      '127.0.0.2|microsoft': 8,
      '127.0.0.3|microsoft': 8,
    });
    rows = await statuses(ctx.organizationId);
    expect(rows.filter((r) => r.status === 'queued').map((r) => new Date(r.not_before).toISOString())).toEqual(
      Array(8).fill('2031-03-05T00:00:00.000Z'),
    );

    // Later on day 1 nothing more goes, even in a new hour.
    clock = new Date(`${DAY_1}T15:00:00Z`);
    await windowPassed(ctx.organizationId);
    await run();
    expect(Object.values(received(addresses)).reduce((a, b) => a + b)).toBe(32);

    // Day 2 (16 a day, 8 an hour): the rest goes.
    clock = new Date('2031-03-05T00:10:00Z');
    await windowPassed(ctx.organizationId);
    await run();
    rows = await statuses(ctx.organizationId);
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(Object.values(received(addresses)).reduce((a, b) => a + b)).toBe(40);
  });

  it('an IP throttles as its score falls (deferrals, reputation bounces), then pauses, and its mail fails over', async () => {
    clock = new Date(`${DAY_1}T10:30:00Z`);
    // 10 an hour to each group.
    const { ctx, pool, send } = await orgWithPool([{ ip: '127.0.0.2', weight: 100 }], {
      daily: [100],
      growth: 1.3,
      hourlyShare: 0.1,
    });
    const ipOf = async (ip: string) =>
      unwrap(await env.services.getIpPool(ctx, { id: pool.id }))!.ips.find((i) => i.ip === ip)!;
    const first = await send(`first.${newId()}@example.com`);
    await run();
    expect((await statuses(ctx.organizationId))[0]!.sending_ip).toBe('127.0.0.2');

    // Deferrals at send time (4xx) count against the IP that got them.
    smtp.rejectRecipients(451, 5);
    for (let i = 0; i < 5; i++) await send(`deferred${i}.${newId()}@example.com`);
    await run();
    smtp.reset();
    expect(await ipOf('127.0.0.2')).toMatchObject({ reputation: 95, state: 'active' });

    // Bounces for its reputation, through the feedback path (inbound DSNs, webhooks).
    const reputationBounce = () =>
      env.services.applyFeedback(
        {
          kind: 'bounce',
          bounceType: 'soft',
          reason: 'blocklisted_reputation',
          recipient: first.address,
          messageId: first.id,
          status: '5.7.1',
          diagnostic: '550 5.7.1 Service unavailable; client host blocked using Spamhaus',
        },
        { source: 'inbound-smtp' },
      );
    for (let i = 0; i < 2; i++) await reputationBounce();
    const throttled = await ipOf('127.0.0.2');
    expect(throttled).toMatchObject({ reputation: 75, state: 'throttled' });
    expect(warmupCaps(throttled.warmup, throttled.warmupStartedOn, clock).hour).toBe(10);

    // Throttled at 75: its 10 an hour shrink to 7, of which 6 went this hour (the first and the deferred five).
    const again = Array.from({ length: 4 }, () => `t.${newId()}@example.com`);
    for (const to of again) await send(to);
    await run();
    const sentNow = (await statuses(ctx.organizationId)).filter((r) => again.includes(r.address));
    expect(sentNow.filter((r) => r.status === 'sent')).toHaveLength(1);
    expect(sentNow.filter((r) => r.status === 'queued' && r.error === null)).toHaveLength(3);

    // Past the threshold it pauses: its messages go to the pool's other IP, though it weighs far less.
    for (let i = 0; i < 3; i++) await reputationBounce();
    unwrap(await env.services.addPoolIp(ctx, { poolId: pool.id, ip: '127.0.0.3', weight: 1, warmup: null }));
    expect(await ipOf('127.0.0.2')).toMatchObject({ reputation: 45, state: 'paused' });
    clock = new Date(`${DAY_1}T11:30:00Z`);
    await windowPassed(ctx.organizationId);
    const later = Array.from({ length: 6 }, () => `p.${newId()}@example.com`);
    for (const to of later) await send(to);
    const before = smtp.messages.length;
    await run();
    expect(received(later)).toEqual({ '127.0.0.3|other': 6 });
    // Everything that went since (the waiting and the deferred ones too) left from the other IP.
    expect(new Set(smtp.messages.slice(before).map((m) => m.remoteAddress))).toEqual(new Set(['127.0.0.3']));
    expect(smtp.messages.length - before).toBe(6 + 3 + 5);

    // The score recovers with time (half-life: a day), and the IP with it.
    clock = new Date('2031-03-05T11:30:00Z');
    expect((await ipOf('127.0.0.2')).reputation).toBeGreaterThan(70);
  });

  it("a sending domain's pool carries its email; complaints lower the domain's score until its mail waits", async () => {
    clock = new Date(`${DAY_1}T10:30:00Z`);
    const { ctx, send } = await orgWithPool([{ ip: '127.0.0.2', warm: true }]);
    const other = unwrap(await env.services.createIpPool(ctx, { name: 'bulk' }));
    unwrap(await env.services.addPoolIp(ctx, { poolId: other.id, ip: '127.0.0.3', warmup: null }));
    const domain = `d${newId().slice(-10)}.test`;
    const added = unwrap(await env.services.addSendingDomain(ctx, { domain }));
    const assigned = unwrap(await env.services.assignIpPool(ctx, { sendingDomainId: added.id, poolId: other.id }));
    expect(assigned.ipPoolId).toBe(other.id);
    unwrap(await env.services.updateSettings(ctx, { defaultFromAddress: `news@${domain}` }));

    const message = await send(`c.${newId()}@example.com`);
    await run();
    expect(received([message.address])).toEqual({ '127.0.0.3|other': 1 });
    const [row] = await env.handle.rows<{ sending_domain: string }>(
      sql`select sending_domain from delivery.messages where id = ${message.id}`,
    );
    expect(row!.sending_domain).toBe(domain);

    for (let i = 0; i < 6; i++)
      await env.services.applyFeedback(
        { kind: 'complaint', feedbackType: 'abuse', recipient: message.address, messageId: message.id },
        { source: 'inbound-smtp' },
      );
    expect(unwrap(await env.services.getSendingDomain(ctx, { id: added.id }))!.reputation).toBe(40);
    // Back on the default pool, whose IP heard nothing: the domain's own score holds its mail.
    unwrap(await env.services.assignIpPool(ctx, { sendingDomainId: added.id, poolId: null }));
    const held = await send(`h.${newId()}@example.com`);
    await run();
    const [waiting] = await statuses(ctx.organizationId).then((rows) => rows.filter((r) => r.address === held.address));
    expect(waiting).toMatchObject({ status: 'queued', error: null, attempts: 0 });
    expect(new Date(waiting!.not_before).toISOString()).toBe(`${DAY_1}T11:00:00.000Z`);
  });

  it('addresses outside DELIVERY_SENDING_IPS, an address in another pool, and bad input are refused', async () => {
    const { ctx, pool } = await orgWithPool([{ ip: '127.0.0.2' }]);
    const other = unwrap(await env.services.createIpPool(ctx, { name: 'other' }));
    const refused = await env.services.addPoolIp(ctx, { poolId: pool.id, ip: '10.9.8.7' });
    expect(!refused.ok && refused.error.code).toBe('SENDING_IP_NOT_ALLOWED');
    const taken = await env.services.addPoolIp(ctx, { poolId: other.id, ip: '127.0.0.2' });
    expect(!taken.ok && taken.error.code).toBe('SENDING_IP_TAKEN');
    const named = await env.services.createIpPool(ctx, { name: 'main' });
    expect(!named.ok && named.error.code).toBe('IP_POOL_NAME_TAKEN');
    for (const bad of [
      { poolId: pool.id, ip: 'not-an-ip' },
      { poolId: pool.id, ip: '127.0.0.3', weight: 0 },
      { poolId: pool.id, ip: '127.0.0.3', warmupStartedOn: '2031-02-30' },
      { poolId: pool.id, ip: '127.0.0.3', warmup: { daily: [], growth: 1.3, hourlyShare: 0.1 } },
    ]) {
      const result = await env.services.addPoolIp(ctx, bad as never);
      expect(!result.ok && result.error.code, JSON.stringify(bad)).toBe('VALIDATION_FAILED');
    }
    // Nothing half-written: the pool has its one IP.
    expect(unwrap(await env.services.getIpPool(ctx, { id: pool.id }))!.ips.map((i) => i.ip)).toEqual(['127.0.0.2']);
    // One default pool: making another the default unmakes the first.
    unwrap(await env.services.updateIpPool(ctx, { id: other.id, isDefault: true }));
    const pools = unwrap(await env.services.listIpPools(ctx));
    expect(pools.map((p) => [p.name, p.isDefault])).toEqual([
      ['main', false],
      ['other', true],
    ]);
    unwrap(await env.services.removePoolIp(ctx, { poolId: pool.id, ip: '127.0.0.2' }));
    unwrap(await env.services.deleteIpPool(ctx, { id: pool.id }));
    expect(unwrap(await env.services.getIpPool(ctx, { id: pool.id }))).toBeNull();
  });
});
