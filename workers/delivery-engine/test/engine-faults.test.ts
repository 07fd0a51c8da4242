// The delivery engine when its database connections drop (a restart, a failover): every message
// still reaches the server once. Faults touch only the engine's own connections — found by their
// application_name and ended with pg_terminate_backend — so the shared server and the suites
// running beside this one are left alone. A lock the test holds makes the engine's statement wait
// exactly where the test wants the connection to drop.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMemoryRateLimiter } from '@mauntic/delivery/engine';
import { newId, type RequestContext, unwrap } from '@mauntic/kernel';
import { type DatabaseHandle, openDatabase, sql } from '@mauntic/platform';
import { ownTestDatabase } from '@mauntic/platform/testing';
import type { SQL } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enqueueMessage } from '../../../subgraphs/delivery/src/app/send.ts';
import { LOOPBACK_ALLOWED, newOrg, openDelivery } from '../../../subgraphs/delivery/test/harness.ts';
import { createEngine } from '../src/create-engine.ts';
import type { DeliveryEngine } from '../src/engine.ts';
import { type SlowSink, slowSink } from './fixtures/slow-sink.ts';

type Env = Awaited<ReturnType<typeof openDelivery>>;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Holds `query`'s locks in an open transaction until the returned function is called. */
async function holdLock(handle: DatabaseHandle, query: SQL): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let locked!: () => void;
  const taken = new Promise<void>((resolve) => {
    locked = resolve;
  });
  const done = handle.db.transaction(async (tx) => {
    await tx.execute(query);
    locked();
    await released;
  });
  await Promise.race([taken, done]);
  return async () => {
    release();
    await done;
  };
}

describe('the delivery engine when its database connections drop', () => {
  let env: Env;
  let sink: SlowSink;
  // Its own database: another suite's engine (the cluster-mode integration tests run one) would
  // claim this suite's messages.
  let database: Awaited<ReturnType<typeof ownTestDatabase>>;
  const engines: { engine: DeliveryEngine; handle: DatabaseHandle }[] = [];

  beforeAll(async () => {
    database = await ownTestDatabase();
    env = await openDelivery(() => openDatabase({ url: database.url, maxConnections: 8 }));
    // Slow enough that the test acts while a batch is being sent.
    sink = await slowSink(150);
  });
  afterEach(async () => {
    for (const { engine, handle } of engines.splice(0)) {
      await engine.stop();
      await handle.close();
    }
  });
  afterAll(async () => {
    await sink.close();
    await env.close();
    await database.drop();
  });

  /** An engine on connections of its own, named `app` in pg_stat_activity. */
  async function startEngine(
    app: string,
    options: {
      owner?: string;
      journalDir?: string;
      lanes?: number;
      batchSize?: number;
      sendConcurrency?: number;
      leaseMs?: number;
    } = {},
  ) {
    const handle = await openDatabase({ url: database.url, maxConnections: 4, applicationName: app });
    const engine = createEngine({
      handle,
      logger: env.logger,
      limiter: createMemoryRateLimiter(),
      encryptionKey: env.keys.encryptionKey,
      trackingKey: env.keys.trackingKey,
      publicBaseUrl: 'https://mail.example.test',
      outbound: LOOPBACK_ALLOWED,
      owner: options.owner ?? `faults-${newId()}`,
      journalDir: options.journalDir ?? mkdtempSync(join(tmpdir(), 'faults-journal-')),
      batchSize: options.batchSize ?? 10,
      lanes: options.lanes ?? 1,
      sendConcurrency: options.sendConcurrency ?? 2,
      ...(options.leaseMs ? { leaseMs: options.leaseMs } : {}),
      pollMs: 20,
    });
    engines.push({ engine, handle });
    await engine.start();
    return engine;
  }

  async function stopEngine(engine: DeliveryEngine) {
    const i = engines.findIndex((e) => e.engine === engine);
    const [entry] = engines.splice(i, 1);
    await entry!.engine.stop();
    await entry!.handle.close();
  }

  /** A new organization with a template and an SMTP provider on the sink. */
  async function setUp() {
    const ctx = newOrg();
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'faults',
        channel: 'email',
        category: 'transactional',
        source: { html: '<p>Hello {{context.n}}</p>', subject: 'n {{context.n}}' },
      }),
    );
    unwrap(
      await env.services.createProviderConfig(ctx, {
        name: 'sink',
        kind: 'smtp',
        config: { host: '127.0.0.1', port: sink.port, pool: { maxConnections: 4 } },
        isDefault: true,
      }),
    );
    return { ctx, templateId: template.id, tag: newId().slice(-12) };
  }

  async function queue(ctx: RequestContext, templateId: string, tag: string, count: number) {
    for (let i = 0; i < count; i++)
      unwrap(
        await env.services.sendMessage(ctx, 'email', {
          templateId,
          to: `${tag}-${i}@example.com`,
          context: { n: i },
          idempotencyKey: `${tag}-${i}`,
        }),
      );
  }

  /** Deliveries the sink took for this test's recipients. */
  const deliveries = (tag: string) => [...sink.received].filter(([address]) => address.startsWith(`${tag}-`));
  const delivered = (tag: string) => deliveries(tag).reduce((sum, [, n]) => sum + n, 0);

  const statuses = (org: string) =>
    env.handle.rows<{ status: string; n: number }>(
      sql`select status, count(*)::int as n from delivery.messages where organization_id = ${org} group by status order by status`,
    );
  const settled = async (org: string) =>
    (await statuses(org)).every((s) => s.status !== 'queued' && s.status !== 'sending');

  /** Backends of `app` waiting for a lock: the engine's statement the test is holding up. */
  const waiting = async (app: string) =>
    (
      await env.handle.rows<{ n: number }>(
        sql`select count(*)::int as n from pg_stat_activity where application_name = ${app} and wait_event_type = 'Lock'`,
      )
    )[0]!.n > 0;
  const dropWaitingConnections = (app: string) =>
    env.handle.rows(
      sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${app} and wait_event_type = 'Lock'`,
    );

  it('records a batch whose record lost its connection once the database answers, and claims nothing more until then', async () => {
    const { ctx, templateId, tag } = await setUp();
    await queue(ctx, templateId, tag, 30);
    const app = `faults-record-${tag}`;
    const owner = `faults-${tag}`;
    const journalDir = mkdtempSync(join(tmpdir(), 'faults-journal-'));
    const engine = await startEngine(app, { owner, journalDir });

    // The first batch (10) is being sent: lock one of its rows, so recording it waits.
    await until(() => delivered(tag) >= 1, 'the first batch to be sent');
    const unlock = await holdLock(
      env.handle,
      sql`select id from delivery.messages where organization_id = ${ctx.organizationId} and status = 'sending' order by id limit 1 for update`,
    );
    try {
      // Its record loses its connection three times in a row.
      for (let drop = 0; drop < 3; drop++) {
        await until(() => waiting(app), `the engine to record the batch (try ${drop + 1})`, 10_000);
        await dropWaitingConnections(app);
      }
      await until(() => waiting(app), 'the engine to record the batch again', 10_000);
      // While its batch is unrecorded, the lane has claimed nothing else.
      expect(await statuses(ctx.organizationId)).toEqual([
        { status: 'queued', n: 20 },
        { status: 'sending', n: 10 },
      ]);
    } finally {
      await unlock();
    }

    // Without a restart, the rest goes out (a send that failed under load is retried after 30 s).
    await until(() => settled(ctx.organizationId), 'every message to be settled', 60_000);
    // And a restart under the same name finds nothing left to send.
    await stopEngine(engine);
    const restarted = await startEngine(`${app}-2`, { owner, journalDir });
    await new Promise((r) => setTimeout(r, 200));
    await stopEngine(restarted);

    expect(deliveries(tag).filter(([, n]) => n > 1)).toEqual([]);
    expect(deliveries(tag)).toHaveLength(30);
    expect(await statuses(ctx.organizationId)).toEqual([{ status: 'sent', n: 30 }]);
    // One delivery.message.sent event per message, though the record was tried four times.
    const [events] = await env.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from delivery.outbox where organization_id = ${ctx.organizationId} and type = 'delivery.message.sent'`,
    );
    expect(events!.n).toBe(30);
  });

  it('sends the messages of its own expired claim that no lane holds (the claim`s answer was lost), without a restart', async () => {
    const { ctx, templateId, tag } = await setUp();
    const owner = `faults-${tag}`;
    await startEngine(`faults-orphan-${tag}`, { owner, leaseMs: 2_000 });
    // What a claim committed by the database but never answered leaves behind: rows leased to
    // this engine that none of its lanes knows about. Written in one transaction, so the running
    // engine never sees them queued.
    await env.handle.db.transaction(async (tx) => {
      for (let i = 0; i < 5; i++) {
        const message = unwrap(
          await enqueueMessage(
            tx,
            ctx.organizationId,
            {
              channel: 'email',
              templateId,
              contactId: null,
              address: `${tag}-${i}@example.com`,
              context: { n: i },
              idempotencyKey: `${tag}-${i}`,
              source: { kind: 'transactional', id: null, stepId: null },
            },
            newId(),
          ),
        );
        await tx.execute(sql`
          update delivery.messages set status = 'sending', lease_owner = ${owner},
            lease_until = now() - interval '1 second', attempts = 1
          where id = ${message.id}`);
      }
    });

    await until(() => settled(ctx.organizationId), 'the orphaned claim to be settled');
    expect(deliveries(tag).map(([, n]) => n)).toEqual([1, 1, 1, 1, 1]);
    expect(await statuses(ctx.organizationId)).toEqual([{ status: 'sent', n: 5 }]);
  });

  it('keeps the lease of a batch it is still sending, so another engine does not send it again', async () => {
    const { ctx, templateId, tag } = await setUp();
    await queue(ctx, templateId, tag, 20);
    // Twenty messages one at a time take about ten leases of 300 ms to send.
    await startEngine(`faults-slow-${tag}`, { batchSize: 20, sendConcurrency: 1, leaseMs: 300 });
    await until(() => delivered(tag) >= 1, 'the batch to be sent');
    await startEngine(`faults-other-${tag}`, { leaseMs: 300 });

    await until(() => settled(ctx.organizationId), 'every message to be settled');
    expect(deliveries(tag).filter(([, n]) => n > 1)).toEqual([]);
    expect(deliveries(tag)).toHaveLength(20);
    expect(await statuses(ctx.organizationId)).toEqual([{ status: 'sent', n: 20 }]);
  });

  it('does not fail a message whose provider lookup lost its connection: it is sent once the database answers', async () => {
    const { ctx, templateId, tag } = await setUp();
    await queue(ctx, templateId, tag, 3);
    const app = `faults-lookup-${tag}`;
    // The engine's first look at the organization's provider waits on this lock, and its
    // connection drops.
    const unlock = await holdLock(env.handle, sql`lock table delivery.providers in access exclusive mode`);
    try {
      await startEngine(app);
      await until(() => waiting(app), 'the provider lookup', 10_000);
      await dropWaitingConnections(app);
    } finally {
      await unlock();
    }

    await until(() => settled(ctx.organizationId), 'every message to be settled');
    expect(await statuses(ctx.organizationId)).toEqual([{ status: 'sent', n: 3 }]);
    expect(deliveries(tag).map(([, n]) => n)).toEqual([1, 1, 1]);
  });
});
