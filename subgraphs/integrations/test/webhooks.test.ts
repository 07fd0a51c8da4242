// Outbound webhooks end to end on a real database (Postgres, PGlite): events recorded for the
// endpoints that want them, sent by the dispatcher to a real HTTP receiver on 127.0.0.1, signed
// as documented (checked by a verifier written here from the documentation, not by our signer),
// retried, disabled with an event, replayed, kept in order per contact and within each endpoint's
// concurrency limit.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { catalogue, createEvent, type EventEnvelope, newId, unwrap } from '@mauntic/kernel';
import { type DatabaseHandle, type OutboundGuard, openDatabase, outboundGuard, rowsOf } from '@mauntic/platform';
import { ownTestDatabase } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebhookDispatcher } from '../src/app/dispatcher/webhook-dispatcher.ts';
import { createIntegrationsServices } from '../src/app/services.ts';
import { recordWebhookEvent } from '../src/app/webhook-events.ts';
import { encryptionKey, LOOPBACK_ALLOWED, logger, newOrg, openIntegrations } from './harness.ts';

/** The receiver's side, as the README documents it: a few lines of node:crypto. */
export function verifySignature(header: string, body: string, secret: string, nowS = Date.now() / 1000): boolean {
  const pairs = header.split(',').map((part) => part.split('=', 2) as [string, string]);
  const t = Number(pairs.find(([k]) => k === 't')?.[1]);
  if (!Number.isFinite(t) || Math.abs(nowS - t) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  return pairs
    .filter(([k]) => k === 'v1')
    .some(([, hex]) => {
      const given = Buffer.from(hex, 'hex');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
  id: string;
}

/** An HTTP server that records what it receives and answers as `answer` says. */
async function receiver(host = '127.0.0.1') {
  const received: Received[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let answer: (r: Received, res: ServerResponse) => void | Promise<void> = (_r, res) => {
    res.end('ok');
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const r = { headers: req.headers, body, id: body ? JSON.parse(body).id : '' };
      received.push(r);
      try {
        await answer(r, res);
      } finally {
        inFlight--;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/hook`,
    port,
    received,
    maxInFlight: () => maxInFlight,
    answer: (fn: typeof answer) => {
      answer = fn;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const until = async (what: () => Promise<boolean> | boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

type Org = ReturnType<typeof newOrg>;
const segmentEntered = (org: Org, contactId: string, segmentId = newId()) =>
  createEvent(catalogue.crm.segmentEntered, {
    organizationId: org.organizationId,
    subjectId: contactId,
    data: { segmentId },
    correlationId: newId(),
  });

const DATABASES = [
  [
    'postgres',
    async () => {
      // The dispatcher claims every organization's deliveries: a database of its own.
      const own = await ownTestDatabase();
      const handle = await openDatabase({ url: own.url, maxConnections: 8 });
      const close = handle.close.bind(handle);
      return Object.assign(handle, {
        close: async () => {
          await close();
          await own.drop();
        },
      }) as DatabaseHandle;
    },
  ],
  ['pglite', () => openDatabase({ memory: true })],
] as const;

describe.each(DATABASES)('outbound webhooks (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  let hooks: Awaited<ReturnType<typeof receiver>>;
  let dispatcher: WebhookDispatcher | undefined;

  const startDispatcher = async (options: Partial<ConstructorParameters<typeof WebhookDispatcher>[0]> = {}) => {
    dispatcher = new WebhookDispatcher({
      handle: env.handle,
      logger,
      encryptionKey,
      outbound: LOOPBACK_ALLOWED,
      pollMs: 20,
      retryBaseMs: 20,
      retryCapMs: 100,
      ...options,
    });
    await dispatcher.start();
    return dispatcher;
  };
  const endpoint = async (org: Org, input: Record<string, unknown> = {}) =>
    unwrap(
      await env.services.createWebhookEndpoint(org, {
        url: hooks.url,
        eventTypes: ['crm.segment.entered', 'crm.segment.exited'],
        ...input,
      }),
    );
  const record = async (event: EventEnvelope) => {
    await recordWebhookEvent(env, event);
    dispatcher?.wake();
  };
  const deliveries = async (org: Org, endpointId: string) =>
    unwrap(await env.services.listWebhookDeliveries(org, { endpointId }, { fetch: 101, limit: 100 })).edges.map(
      (e) => e.node,
    );

  beforeAll(async () => {
    env = await openIntegrations(open);
  });
  afterAll(() => env?.close());
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    await hooks?.close();
  });

  it('posts the event as documented, signed so that a verifier written from the docs accepts it', async () => {
    hooks = await receiver();
    const org = newOrg();
    const made = await endpoint(org);
    expect(made.secret).toMatch(/^whsec_/);
    await startDispatcher();
    const event = segmentEntered(org, newId());
    await record(event);
    await until(() => hooks.received.length === 1);
    const [got] = hooks.received;
    expect(JSON.parse(got!.body)).toEqual({
      id: event.id,
      type: 'crm.segment.entered',
      occurredAt: event.occurredAt,
      organizationId: org.organizationId,
      data: event.data,
    });
    expect(got!.headers['content-type']).toBe('application/json');
    const header = String(got!.headers['mauntic-signature']);
    expect(verifySignature(header, got!.body, made.secret)).toBe(true);
    // A wrong secret, a changed body or a stale timestamp are refused by the same verifier.
    expect(verifySignature(header, got!.body, 'whsec_wrong')).toBe(false);
    expect(verifySignature(header, got!.body.replace('segment', 'Segment'), made.secret)).toBe(false);
    expect(verifySignature(header, got!.body, made.secret, Date.now() / 1000 + 301)).toBe(false);
    await until(async () => (await deliveries(org, made.id))[0]?.status === 'succeeded');
  });

  it('signs with both secrets during a rotation: receivers on the old or the new one accept', async () => {
    hooks = await receiver();
    const org = newOrg();
    const made = await endpoint(org);
    const rotated = unwrap(await env.services.rotateWebhookSecret(org, { id: made.id }));
    expect(rotated.secret).not.toBe(made.secret);
    expect(rotated.previousSecretExpiresAt!.getTime() - Date.now()).toBeGreaterThan(23 * 3600_000);
    await startDispatcher();
    await record(segmentEntered(org, newId()));
    await until(() => hooks.received.length === 1);
    const [got] = hooks.received;
    const header = String(got!.headers['mauntic-signature']);
    expect(header.match(/v1=/g)).toHaveLength(2);
    expect(verifySignature(header, got!.body, made.secret)).toBe(true);
    expect(verifySignature(header, got!.body, rotated.secret)).toBe(true);
    // Once the overlap is over, only the new secret signs.
    await env.handle.db.execute(
      sql`update integrations.webhook_endpoints set previous_secret_expires_at = now() - interval '1 second' where id = ${made.id}`,
    );
    await record(segmentEntered(org, newId()));
    await until(() => hooks.received.length === 2);
    const later = String(hooks.received[1]!.headers['mauntic-signature']);
    expect(later.match(/v1=/g)).toHaveLength(1);
    expect(verifySignature(later, hooks.received[1]!.body, rotated.secret)).toBe(true);
    expect(verifySignature(later, hooks.received[1]!.body, made.secret)).toBe(false);
  });

  it('retries a failing delivery with backoff until it succeeds, logging each attempt', async () => {
    hooks = await receiver();
    let calls = 0;
    hooks.answer((_r, res) => {
      calls++;
      res.statusCode = calls < 3 ? 503 : 200;
      res.end(calls < 3 ? 'try later' : 'thanks');
    });
    const org = newOrg();
    const made = await endpoint(org);
    await startDispatcher();
    const event = segmentEntered(org, newId());
    await record(event);
    await until(async () => (await deliveries(org, made.id))[0]?.status === 'succeeded');
    const [delivery] = await deliveries(org, made.id);
    const log = await env.services.webhookAttempts(delivery!);
    expect(log.map((a) => [a.attempt, a.statusCode, a.response])).toEqual([
      [1, 503, 'try later'],
      [2, 503, 'try later'],
      [3, 200, 'thanks'],
    ]);
    // The failed attempts said when the next would be; it was not before.
    expect(log[0]!.nextAttemptAt!.getTime()).toBeLessThanOrEqual(log[1]!.attemptedAt.getTime());
    expect(new Set(hooks.received.map((r) => r.id))).toEqual(new Set([event.id]));
    const [health] = rowsOf<{ consecutive_failures: number }>(
      await env.handle.db.execute(
        sql`select consecutive_failures from integrations.webhook_endpoints where id = ${made.id}`,
      ),
    );
    expect(health!.consecutive_failures).toBe(0);
  });

  it('logs an answer with a NUL byte, and the other answers written with it', async () => {
    hooks = await receiver();
    let calls = 0;
    hooks.answer((_r, res) => {
      calls++;
      res.end(calls === 1 ? 'bad\u0000answer' : 'ok');
    });
    const org = newOrg();
    const made = await endpoint(org);
    const events = Array.from({ length: 5 }, () => segmentEntered(org, newId()));
    for (const event of events) await record(event);
    await startDispatcher();
    await until(
      async () => (await deliveries(org, made.id)).filter((d) => d.status === 'succeeded').length === events.length,
    );
    const responses = [];
    for (const delivery of await deliveries(org, made.id))
      responses.push(...(await env.services.webhookAttempts(delivery)).map((a) => a.response));
    expect(responses.sort()).toEqual(['badanswer', 'ok', 'ok', 'ok', 'ok']);
    expect(hooks.received).toHaveLength(5);
  });

  it('disables an endpoint that keeps failing, once, with a catalogued event in the outbox', async () => {
    hooks = await receiver();
    hooks.answer((_r, res) => {
      res.statusCode = 500;
      res.end('x'.repeat(5000));
    });
    const org = newOrg();
    const made = await endpoint(org);
    await startDispatcher({ disableAfterFailures: 4, disableAfterMs: 0 });
    for (let i = 0; i < 3; i++) await record(segmentEntered(org, newId()));
    await until(async () => !unwrap(await env.services.getWebhookEndpoint(org, made.id))!.enabled);
    const disabled = unwrap(await env.services.getWebhookEndpoint(org, made.id))!;
    expect(disabled.disabledReason).toMatch(/failed attempts in a row/);
    await new Promise((r) => setTimeout(r, 200));
    const sent = hooks.received.length;
    const events = rowsOf<{ envelope: { data: { endpointId: string; reason: string } } }>(
      await env.handle.db.execute(
        sql`select envelope from integrations.outbox where type = 'integrations.webhook-endpoint.disabled'
            and organization_id = ${org.organizationId}`,
      ),
    );
    expect(events).toHaveLength(1);
    expect(events[0]!.envelope.data).toMatchObject({ endpointId: made.id, reason: 'failing' });
    // Nothing more goes out, and new events are not even recorded for it.
    await record(segmentEntered(org, newId()));
    await new Promise((r) => setTimeout(r, 200));
    expect(hooks.received.length).toBe(sent);
    const rows = await deliveries(org, made.id);
    expect(rows).toHaveLength(3);
    // The log keeps the first KB of what it answered.
    const log = await env.services.webhookAttempts(rows[0]!);
    expect(log[0]!.response).toHaveLength(1024);
    // A replay to a disabled endpoint is a typed refusal.
    const replay = await env.services.replayWebhookDelivery(org, { id: rows[0]!.id });
    expect(!replay.ok && replay.error.code).toBe('WEBHOOK_ENDPOINT_DISABLED');
  });

  it('disables an endpoint at once when it answers 410 Gone', async () => {
    hooks = await receiver();
    hooks.answer((_r, res) => {
      res.statusCode = 410;
      res.end();
    });
    const org = newOrg();
    const made = await endpoint(org);
    await startDispatcher();
    await record(segmentEntered(org, newId()));
    await until(async () => !unwrap(await env.services.getWebhookEndpoint(org, made.id))!.enabled);
    expect(unwrap(await env.services.getWebhookEndpoint(org, made.id))!.disabledReason).toMatch(/410/);
    expect((await deliveries(org, made.id))[0]!.status).toBe('failed');
  });

  it('replays one delivery, and every delivery of a time range, with the same event ids', async () => {
    hooks = await receiver();
    const org = newOrg();
    const made = await endpoint(org);
    await startDispatcher();
    const base = Date.now() - 3600_000;
    const events = [0, 1, 2, 3].map((i) => ({
      ...segmentEntered(org, newId()),
      occurredAt: new Date(base + i * 60_000).toISOString(),
    }));
    for (const event of events) await record(event);
    await until(() => hooks.received.length === 4);
    await until(
      async () => (await deliveries(org, made.id)).filter((d) => d.status === 'succeeded').length === events.length,
    );

    const one = (await deliveries(org, made.id)).find((d) => d.eventId === events[0]!.id)!;
    const replayed = unwrap(await env.services.replayWebhookDelivery(org, { id: one.id }));
    expect(replayed.status).toBe('pending');
    dispatcher!.wake();
    await until(() => hooks.received.length === 5);
    expect(hooks.received[4]!.id).toBe(events[0]!.id);

    // The two middle events' minute range.
    const count = unwrap(
      await env.services.replayWebhookDeliveries(org, {
        endpointId: made.id,
        from: new Date(base + 60_000),
        to: new Date(base + 2 * 60_000),
      }),
    );
    expect(count).toBe(2);
    dispatcher!.wake();
    await until(() => hooks.received.length === 7);
    expect(new Set(hooks.received.slice(5).map((r) => r.id))).toEqual(new Set([events[1]!.id, events[2]!.id]));
    // Another organization replays nothing of this one.
    const other = await env.services.replayWebhookDeliveries(newOrg(), {
      endpointId: made.id,
      from: new Date(base),
      to: new Date(),
    });
    expect(!other.ok && other.error.code).toBe('NOT_FOUND');
  });

  it("keeps each contact's events in order per endpoint while others go ahead, within the concurrency limit", async () => {
    hooks = await receiver();
    const org = newOrg();
    const made = await endpoint(org, { maxConcurrency: 2 });
    const slow = newId();
    const first = segmentEntered(org, slow);
    let failedOnce = false;
    hooks.answer(async (r, res) => {
      // The slow contact's first event fails once: its second must wait for its retry.
      if (r.id === first.id && !failedOnce) {
        failedOnce = true;
        res.statusCode = 500;
        return void res.end();
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
      res.end('ok');
    });
    const second = createEvent(catalogue.crm.segmentExited, {
      organizationId: org.organizationId,
      subjectId: slow,
      data: { segmentId: newId() },
      correlationId: newId(),
    });
    await record(first);
    await record(second);
    const others = Array.from({ length: 8 }, () => segmentEntered(org, newId()));
    for (const event of others) await record(event);
    await startDispatcher({ retryBaseMs: 2000, retryCapMs: 2000 });
    await until(() => new Set(hooks.received.map((r) => r.id)).size === 10);
    const order = hooks.received.map((r) => r.id);
    // first (failed), ..., first (retried), then second; never second before first succeeded.
    expect(order.filter((id) => id === first.id || id === second.id)).toEqual([first.id, first.id, second.id]);
    // The other contacts did not wait for the slow one's retry.
    expect(order.indexOf(others.at(-1)!.id)).toBeLessThan(order.lastIndexOf(first.id));
    expect(hooks.maxInFlight()).toBe(2);
    void made;
  });

  it('sends only what an endpoint subscribed to and filtered for, and nothing of other organizations', async () => {
    hooks = await receiver();
    const org = newOrg();
    const segment = newId();
    await endpoint(org, { eventTypes: ['crm.segment.entered'], segmentIds: [segment] });
    await startDispatcher();
    const wanted = segmentEntered(org, newId(), segment);
    await record(segmentEntered(org, newId(), newId()));
    await record(segmentEntered(newOrg(), newId(), segment));
    await record(
      createEvent(catalogue.crm.segmentExited, {
        organizationId: org.organizationId,
        subjectId: newId(),
        data: { segmentId: segment },
        correlationId: newId(),
      }),
    );
    await record(wanted);
    await until(() => hooks.received.length >= 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(hooks.received.map((r) => r.id)).toEqual([wanted.id]);
  });
});

describe('the SSRF guard on webhook URLs', () => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  const refused = async (guard: OutboundGuard | undefined, url: string) => {
    const local = guard ? await openIntegrations(() => openDatabase({ memory: true }), guard) : env;
    const result = await local.services.createWebhookEndpoint(newOrg(), { url, eventTypes: ['crm.contact.created'] });
    if (local !== env) await local.close();
    return !result.ok && result.error.code;
  };
  beforeAll(async () => {
    // The platform's default: no private address allowed.
    env = await openIntegrations(() => openDatabase({ memory: true }), outboundGuard());
  });
  afterAll(() => env?.close());

  it('refuses loopback, metadata and private addresses and URLs with credentials, saving nothing', async () => {
    for (const url of [
      'http://127.0.0.1:8080/hook',
      'http://[::1]/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.8/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'https://user:pass@example.com/hook',
    ])
      expect([url, await refused(undefined, url)]).toEqual([url, 'WEBHOOK_URL_REFUSED']);
    expect(await refused(undefined, 'ftp://example.com/')).toBe('VALIDATION_FAILED');
    const [count] = rowsOf<{ n: number }>(
      await env.handle.db.execute(sql`select count(*)::int as n from integrations.webhook_endpoints`),
    );
    expect(count!.n).toBe(0);
  });
});

describe('the SSRF guard where the dispatcher connects', () => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  let dispatcher: WebhookDispatcher | undefined;
  const servers: Awaited<ReturnType<typeof receiver>>[] = [];
  /** The test DNS server (NSD, scripts/services.sh) names inbound.mauntic.test 127.0.0.1. */
  const testDns: OutboundGuard = outboundGuard({
    resolve: async (host) => {
      const resolver = new Resolver({ timeout: 2000, tries: 2 });
      resolver.setServers([process.env.DNS_TEST_SERVER ?? '127.0.0.1:5300']);
      return (await resolver.resolve4(host)).map((address) => ({ address, family: 4 }));
    },
  });

  beforeAll(async () => {
    env = await openIntegrations(() => openDatabase({ memory: true }));
  });
  afterEach(async () => {
    await dispatcher?.stop();
    dispatcher = undefined;
    for (const server of servers.splice(0)) await server.close();
  });
  afterAll(() => env?.close());

  /** An endpoint saved (through `saving`'s guard), an event for it, and a dispatcher with `guard`; its first attempt. */
  async function firstAttempt(url: string, guard: OutboundGuard, saving = LOOPBACK_ALLOWED) {
    const org = newOrg();
    const services = createIntegrationsServices({ handle: env.handle, logger, encryptionKey, outbound: saving });
    const made = unwrap(await services.createWebhookEndpoint(org, { url, eventTypes: ['crm.segment.entered'] }));
    dispatcher = new WebhookDispatcher({ handle: env.handle, logger, encryptionKey, outbound: guard, pollMs: 20 });
    await dispatcher.start();
    await recordWebhookEvent(env, segmentEntered(org, newId()));
    dispatcher.wake();
    let log: Awaited<ReturnType<typeof env.services.webhookAttempts>> = [];
    await until(async () => {
      const page = unwrap(
        await env.services.listWebhookDeliveries(org, { endpointId: made.id }, { fetch: 2, limit: 1 }),
      );
      log = page.edges[0] ? await env.services.webhookAttempts(page.edges[0].node) : [];
      return log.length > 0;
    });
    return log[0]!;
  }

  it('refuses a name that resolves to 127.0.0.1, when saved and when sending (DNS rebinding)', async () => {
    const hooks = await receiver();
    servers.push(hooks);
    const url = `http://inbound.mauntic.test:${hooks.port}/hook`;
    const saving = await openIntegrations(() => openDatabase({ memory: true }), testDns);
    const saved = await saving.services.createWebhookEndpoint(newOrg(), { url, eventTypes: ['crm.segment.entered'] });
    await saving.close();
    expect(!saved.ok && saved.error.code).toBe('WEBHOOK_URL_REFUSED');
    // Saved while the name resolved to a public address, sent once it resolves to loopback.
    const publicThen = outboundGuard({ resolve: async () => [{ address: '93.184.216.34', family: 4 }] });
    const attempt = await firstAttempt(url, testDns, publicThen);
    expect(attempt.statusCode).toBeNull();
    expect(attempt.error).toMatch(/inbound\.mauntic\.test \(127\.0\.0\.1\) is a loopback address/);
    expect(hooks.received).toHaveLength(0);
  });

  it('refuses a loopback literal when sending, whatever was allowed when it was saved', async () => {
    const hooks = await receiver();
    servers.push(hooks);
    const attempt = await firstAttempt(hooks.url, outboundGuard());
    expect(attempt.error).toMatch(/127\.0\.0\.1 is a loopback address/);
    expect(hooks.received).toHaveLength(0);
  });

  it('does not follow a redirect to a private address: the 3xx is a failed attempt', async () => {
    const inside = await receiver('127.0.0.2');
    const hooks = await receiver();
    servers.push(inside, hooks);
    hooks.answer((_r, res) => {
      res.statusCode = 307;
      res.setHeader('location', inside.url);
      res.end();
    });
    // Only the receiver itself is allowed, as an operator would allow one internal host.
    const attempt = await firstAttempt(hooks.url, outboundGuard({ allow: ['127.0.0.1'] }));
    expect(attempt.statusCode).toBe(307);
    expect(attempt.nextAttemptAt).not.toBeNull();
    await new Promise((r) => setTimeout(r, 200));
    expect(hooks.received).toHaveLength(1);
    expect(inside.received).toHaveLength(0);
  });
});
