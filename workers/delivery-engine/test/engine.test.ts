// The delivery engine end to end on a real database and a real SMTP server: policy checks,
// rendering and tracking, provider retries and failover, and recovery after a crash.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryRateLimiter } from '@mauntic/delivery/engine';
import { catalogue, createEvent, newId, unwrap } from '@mauntic/kernel';
import { openDatabase, registry } from '@mauntic/platform';
import { ownTestDatabase } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyCrmEvent } from '../../../subgraphs/delivery/src/app/contacts-projection.ts';
import { enqueueMessage } from '../../../subgraphs/delivery/src/app/send.ts';
import { type SmtpFake, startSmtpFake } from '../../../subgraphs/delivery/test/fakes/smtp-server.ts';
import { LOOPBACK_ALLOWED, newOrg, openDelivery, seedContact } from '../../../subgraphs/delivery/test/harness.ts';
import { createEngine } from '../src/create-engine.ts';
import type { DeliveryEngine } from '../src/engine.ts';
import { Journal, journalFile } from '../src/journal.ts';
import { reportQueueDepth } from '../src/queue-depth.ts';

const MJML = `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{contact.firstName}}, your order {{context.order}} shipped.</mj-text>
  <mj-button href="https://shop.example.com/orders?ref=mail">Track it</mj-button>
  <mj-text><a href="mailto:help@shop.example.com">Write to us</a> <a href="#top">Top</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`;

// Postgres in a database of its own: another suite's engine (the cluster-mode integration tests
// run one) would claim this suite's messages.
const DATABASES = [
  ['postgres', ownTestDatabase],
  ['pglite', null],
] as const;

describe.each(DATABASES)('the delivery engine on %s', (_name, own) => {
  let dropDatabase = async () => {};
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;
  let backup: SmtpFake;
  const engines: DeliveryEngine[] = [];

  beforeAll(async () => {
    env = await openDelivery(async () => {
      if (!own) return openDatabase({ memory: true });
      const database = await own();
      dropDatabase = database.drop;
      return openDatabase({ url: database.url, maxConnections: 8 });
    });
    smtp = await startSmtpFake();
    backup = await startSmtpFake();
  });
  afterEach(async () => {
    for (const engine of engines.splice(0)) await engine.stop();
    smtp.reset();
    backup.reset();
  });
  afterAll(async () => {
    await smtp.close();
    await backup.close();
    await env.close();
    await dropDatabase();
  });

  function engine(
    owner = `engine-${newId()}`,
    journalDir = mkdtempSync(join(tmpdir(), 'journal-')),
    now = () => new Date(),
  ) {
    const e = createEngine({
      handle: env.handle,
      logger: env.logger,
      limiter: createMemoryRateLimiter(),
      encryptionKey: env.keys.encryptionKey,
      trackingKey: env.keys.trackingKey,
      publicBaseUrl: 'https://mail.example.test',
      outbound: LOOPBACK_ALLOWED,
      owner,
      journalDir,
      batchSize: 50,
      lanes: 2,
      sendConcurrency: 4,
      pollMs: 50,
      now,
    });
    engines.push(e);
    return e;
  }

  /** Runs batches until nothing is left to claim now. */
  async function drain(e: DeliveryEngine) {
    const journal = new Journal(journalFile(mkdtempSync(join(tmpdir(), 'drain-')), 'drain', 0));
    while ((await e.runBatch(journal)) > 0);
  }

  async function setUp(options: { category?: 'marketing' | 'transactional'; port?: number } = {}) {
    const ctx = newOrg();
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'shipped',
        channel: 'email',
        category: options.category ?? 'marketing',
        source: {
          mjml: MJML,
          subject: 'Order {{context.order}} for {{contact.firstName}}',
          fromAddress: 'shop@shop.example.com',
        },
      }),
    );
    const provider = unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'relay',
        kind: 'smtp',
        config: { host: '127.0.0.1', port: options.port ?? smtp.port, pool: { maxConnections: 2 } },
        isDefault: true,
      }),
    );
    return { ctx, template, provider };
  }

  const statusOf = async (id: string) =>
    (
      await env.handle.rows<{ status: string; error: string | null; attempts: number }>(
        sql`select status, error, attempts from delivery.messages where id = ${id}`,
      )
    )[0]!;

  it('renders, tracks and sends each queued message once, and records it sent with its event', async () => {
    const { ctx, template } = await setUp();
    const contactId = await seedContact(env.services, ctx.organizationId, {
      email: 'Ada@Example.com',
      firstName: '<script>alert(1)</script>',
    });
    const sent = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        contactId,
        context: { order: 'A-17' },
        idempotencyKey: 'order-A-17',
      }),
    );
    const again = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        contactId,
        context: { order: 'A-17' },
        idempotencyKey: 'order-A-17',
      }),
    );
    expect(again.id).toBe(sent.id);

    await drain(engine());
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.rcptTo).toEqual(['ada@example.com']);
    const mail = await simpleParser(smtp.messages[0]!.raw);
    // Handlebars writes `=` in attribute values as &#x3D;, which HTML readers decode.
    const html = String(mail.html).replaceAll('&#x3D;', '=');
    expect(mail.subject).toBe('Order A-17 for <script>alert(1)</script>');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>');
    expect(mail.text).toContain('Hello <script>alert(1)</script>');
    // Links go through the click endpoint; mailto: and #anchors stay as written.
    expect(html).toMatch(/href="https:\/\/mail\.example\.test\/t\/click\?t=[\w.-]+&amp;l=\d+"/);
    expect(html).not.toContain('https://shop.example.com/orders');
    expect(html).toContain('href="mailto:help@shop.example.com"');
    expect(html).toContain('href="#top"');
    expect(html).toMatch(/<img[^>]+src="https:\/\/mail\.example\.test\/t\/open\?t=/);
    // (mailparser folds List-* headers into one object; read them from the message itself.)
    const head = `\r\n${smtp.messages[0]!.raw.toString('utf8').split('\r\n\r\n')[0]!}`;
    expect(head).toContain('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
    expect(head).toMatch(/\r\nList-Unsubscribe:\s+<https:\/\/mail\.example\.test\/t\/unsubscribe\?t=[\w.-]+>/);
    expect(mail.messageId).toBe(`<${sent.id}@shop.example.com>`);

    expect((await statusOf(sent.id)).status).toBe('sent');
    const events = await env.handle.rows<{ type: string }>(
      sql`select type from delivery.outbox where organization_id = ${ctx.organizationId} and type like 'delivery.message.%' order by seq`,
    );
    expect(events.map((e) => e.type)).toEqual(['delivery.message.queued', 'delivery.message.sent']);
  });

  it('sends transactional mail without unsubscribe headers', async () => {
    const { ctx, template } = await setUp({ category: 'transactional' });
    unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: 'bob@example.com',
        idempotencyKey: 'reset-1',
      }),
    );
    await drain(engine());
    const head = `\r\n${smtp.messages[0]!.raw.toString('utf8').split('\r\n\r\n')[0]!}`;
    expect(head).toContain('\r\nX-Mauntic-Message: ');
    expect(head).not.toContain('List-Unsubscribe');
  });

  it('skips suppressed addresses and do-not-contact contacts, each with its reason', async () => {
    const { ctx, template } = await setUp();
    unwrap(
      await env.services.addSuppression(ctx, { channel: 'email', address: 'gone@example.com', reason: 'hard_bounce' }),
    );
    const dnc = await seedContact(env.services, ctx.organizationId, { email: 'quiet@example.com' });
    await applyCrmEvent(
      env.services.deps,
      createEvent(catalogue.crm.dncChanged, {
        organizationId: ctx.organizationId,
        subjectId: dnc,
        correlationId: newId(),
        data: { channel: 'email', doNotContact: true, reason: 'manual' },
      }),
    );
    const ok = await seedContact(env.services, ctx.organizationId, { email: 'fine@example.com' });
    const send = async (input: { to?: string; contactId?: string }, key: string) =>
      unwrap(await env.services.sendMessage(ctx, 'email', { templateId: template.id, ...input, idempotencyKey: key }));
    const suppressed = await send({ to: 'GONE@example.com' }, 'a');
    const blocked = await send({ contactId: dnc }, 'b');
    const delivered = await send({ contactId: ok }, 'c');
    await drain(engine());
    expect(smtp.messages.map((m) => m.rcptTo[0])).toEqual(['fine@example.com']);
    expect(await statusOf(suppressed.id)).toMatchObject({ status: 'skipped', error: 'suppressed: hard_bounce' });
    expect(await statusOf(blocked.id)).toMatchObject({ status: 'skipped', error: 'do_not_contact' });
    expect((await statusOf(delivered.id)).status).toBe('sent');
  });

  it('holds frequency caps and quiet hours for campaign messages', async () => {
    const { ctx, template } = await setUp();
    unwrap(
      await env.services.updateSettings(ctx, {
        frequencyCaps: { email: { max: 1, periodSeconds: 86_400 } },
      }),
    );
    const contactId = await seedContact(env.services, ctx.organizationId, {
      email: 'cap@example.com',
      timezone: 'UTC',
    });
    const campaign = (key: string) =>
      env.handle.db.transaction(async (tx) =>
        unwrap(
          await enqueueMessage(
            tx,
            ctx.organizationId,
            {
              channel: 'email',
              templateId: template.id,
              contactId,
              address: 'cap@example.com',
              context: {},
              idempotencyKey: key,
              source: { kind: 'campaign', id: 'spring', stepId: null },
            },
            newId(),
          ),
        ),
      );
    const first = await campaign('c1');
    const second = await campaign('c2');
    await drain(engine());
    expect(smtp.messages).toHaveLength(1);
    expect((await statusOf(first.id)).status).toBe('sent');
    expect((await statusOf(second.id)).error).toMatch(/^frequency_cap/);

    // Quiet hours all day long: the next campaign message waits for the window to end.
    unwrap(
      await env.services.updateSettings(ctx, {
        frequencyCaps: { email: null },
        quietHours: { start: '08:00', end: '20:00', mode: 'defer' },
      }),
    );
    const third = await campaign('c3');
    // A new engine reads the settings afresh (an engine caches them for 5 s). Its clock says noon
    // tomorrow (UTC), so the end of the window is ahead of the database's clock too.
    const noon = new Date(Date.now() + 86_400_000);
    noon.setUTCHours(12, 0, 0, 0);
    await drain(engine(undefined, undefined, () => noon));
    expect(smtp.messages).toHaveLength(1);
    const [row] = await env.handle.rows<{ status: string; not_before: Date; attempts: number }>(
      sql`select status, not_before, attempts from delivery.messages where id = ${third.id}`,
    );
    expect(row!.status).toBe('queued');
    expect(new Date(row!.not_before).getTime()).toBeGreaterThan(Date.now());
    expect(row!.attempts).toBe(0);
  });

  it('fails over to the second provider on a lasting 421 and never on a 550', async () => {
    const { ctx, template, provider } = await setUp();
    const second = unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'backup',
        kind: 'smtp',
        config: { host: '127.0.0.1', port: backup.port },
      }),
    );
    unwrap(await env.services.updateProviderConfig(ctx, { id: provider.id, failoverProviderId: second.id }));
    smtp.rejectRecipients(421);
    const m1 = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: 'x@example.com',
        idempotencyKey: 'f1',
      }),
    );
    await drain(engine());
    expect(smtp.messages).toHaveLength(0);
    expect(backup.messages.map((m) => m.rcptTo[0])).toEqual(['x@example.com']);
    const [row] = await env.handle.rows<{ provider_id: string }>(
      sql`select provider_id from delivery.messages where id = ${m1.id}`,
    );
    expect(row!.provider_id).toBe(second.id);

    smtp.rejectRecipients(550);
    const m2 = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: 'y@example.com',
        idempotencyKey: 'f2',
      }),
    );
    await drain(engine());
    expect(backup.messages).toHaveLength(1);
    expect(await statusOf(m2.id)).toMatchObject({ status: 'failed' });
  });

  it('retries a transient failure later instead of failing it', async () => {
    const { ctx, template } = await setUp({ port: 1 }); // nothing listens on port 1
    const m = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: 'z@example.com',
        idempotencyKey: 'r1',
      }),
    );
    await drain(engine());
    const [row] = await env.handle.rows<{ status: string; not_before: Date; attempts: number; error: string }>(
      sql`select status, not_before, attempts, error from delivery.messages where id = ${m.id}`,
    );
    expect(row).toMatchObject({ status: 'queued', attempts: 1 });
    expect(row!.error).toMatch(/^provider_error/);
    expect(new Date(row!.not_before).getTime()).toBeGreaterThan(Date.now() + 20_000);
  });

  it('after a crash, marks what its journal says left and sends the rest, each once', async () => {
    const { ctx, template } = await setUp();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      ids.push(
        unwrap(
          await env.services.sendMessage(ctx, 'email', {
            templateId: template.id,
            to: `crash${i}@example.com`,
            idempotencyKey: `crash-${i}`,
          }),
        ).id,
      );
    // A dead engine's state: all six claimed; #0 accepted (journaled S), #1 handed over without a
    // reply (H) - both really reached the server -, the other four never left.
    const owner = `dead-${newId()}`;
    const dir = mkdtempSync(join(tmpdir(), 'crash-'));
    await env.handle.rows(sql`
      update delivery.messages set status = 'sending', lease_owner = ${owner}, lease_until = now() + interval '1 hour', attempts = 1
      where id in (${sql.join(
        ids.map((id) => sql`${id}`),
        sql`, `,
      )})`);
    const journal = new Journal(journalFile(dir, owner, 0));
    journal.handed(ids[0]!);
    journal.sent(ids[0]!, 'Q-before-crash');
    journal.handed(ids[1]!);
    journal.close();

    const restarted = engine(owner, dir);
    await restarted.recover();
    await drain(restarted);
    expect(smtp.messages.map((m) => m.rcptTo[0]).sort()).toEqual([
      'crash2@example.com',
      'crash3@example.com',
      'crash4@example.com',
      'crash5@example.com',
    ]);
    const rows = await env.handle.rows<{
      id: string;
      status: string;
      unconfirmed: boolean;
      provider_message_id: string;
    }>(
      sql`select id, status, unconfirmed, provider_message_id from delivery.messages where organization_id = ${ctx.organizationId}`,
    );
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(byId.get(ids[0]!)).toMatchObject({ unconfirmed: false, provider_message_id: 'Q-before-crash' });
    expect(byId.get(ids[1]!)).toMatchObject({ unconfirmed: true });
  });

  it('reports the queue depth at /metrics, across organizations: due, deferred and being sent', async () => {
    const depth = async () => {
      const { values } = await registry.getSingleMetric('mauntic_delivery_queue_depth')!.get();
      return Object.fromEntries(values.map((v) => [v.labels.state, v.value]));
    };
    const working = await setUp();
    const broken = await setUp({ port: 1 }); // nothing listens on port 1: its sends wait for a retry
    const queue = async (at: typeof working, n: number) =>
      unwrap(
        await env.services.sendMessage(at.ctx, 'email', {
          templateId: at.template.id,
          to: `depth-${n}@example.com`,
          idempotencyKey: `depth-${n}`,
        }),
      );
    await drain(engine()); // what earlier tests left due
    const stop = reportQueueDepth(env.handle, env.logger, { cacheMs: 0 });
    let before: Record<string, number>;
    try {
      before = await depth();
      await queue(working, 1);
      await queue(working, 2);
      const retried = await queue(broken, 3);
      expect(await depth()).toEqual({ ...before, due: before.due! + 3 });

      await drain(engine());
      expect(smtp.messages).toHaveLength(2);
      expect(await depth()).toEqual({ ...before, deferred: before.deferred! + 1 });

      await env.handle.rows(sql`update delivery.messages set status = 'sending' where id = ${retried.id}`);
      expect(await depth()).toEqual({ ...before, sending: before.sending! + 1 });
      await env.handle.rows(sql`update delivery.messages set status = 'queued' where id = ${retried.id}`);
    } finally {
      stop();
    }
    expect(await depth()).toEqual({}); // no engine reports

    // Counted at most once per cache period, however often it is scraped.
    const stopCached = reportQueueDepth(env.handle, env.logger, { cacheMs: 60_000 });
    try {
      const first = await depth();
      await queue(broken, 4);
      expect(await depth()).toEqual(first);
    } finally {
      stopCached();
    }

    // A running engine reports until it stops.
    const running = engine();
    await running.start();
    expect(Object.keys(await depth()).sort()).toEqual(['deferred', 'due', 'sending']);
    await running.stop();
    expect(await depth()).toEqual({});
  });

  it('keeps organizations apart: one cannot send with, read or count another one`s messages', async () => {
    const a = await setUp();
    const b = newOrg();
    const m = unwrap(
      await env.services.sendMessage(a.ctx, 'email', {
        templateId: a.template.id,
        to: 'p@example.com',
        idempotencyKey: 'k',
      }),
    );
    const foreign = await env.services.sendMessage(b, 'email', {
      templateId: a.template.id,
      to: 'p@example.com',
      idempotencyKey: 'k',
    });
    expect(foreign.ok).toBe(false);
    expect(foreign.ok ? null : foreign.error.code).toBe('NOT_FOUND');
    expect(unwrap(await env.services.getMessage(b, m.id))).toBeNull();
    const page = unwrap(await env.services.listMessages(b, {}, { fetch: 11, limit: 10 }));
    expect(page.totalCount).toBe(0);
    expect(unwrap(await env.services.deliveryStats(b, 'template', {}))).toEqual([]);
  });
});
