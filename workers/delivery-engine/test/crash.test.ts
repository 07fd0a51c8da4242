// An engine process killed with SIGKILL in the middle of its batches, then restarted under the
// same name: every message reaches the SMTP server exactly once.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDeliveryServices } from '@mauntic/delivery/services';
import { newId, unwrap } from '@mauntic/kernel';
import {
  createLogger,
  type DatabaseHandle,
  EMBEDDED_OUTBOUND_ALLOWED,
  LocalJobQueue,
  openDatabase,
  outboundGuard,
  parseAllowList,
  runMigrations,
  sql,
} from '@mauntic/platform';
import { ownTestDatabase, TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryModule } from '../../../subgraphs/delivery/src/module.ts';
import { newOrg } from '../../../subgraphs/delivery/test/harness.ts';
import { type SlowSink, slowSink } from './fixtures/slow-sink.ts';

const PUBLIC_BASE_URL = 'https://mail.example.test';

interface Keys {
  encryptionKey: Buffer;
  trackingSecret: string;
}

/** A new organization with a template and an SMTP provider on the sink, and `total` messages queued. */
async function queueMessages(handle: DatabaseHandle, keys: Keys, sinkPort: number, total: number) {
  const logger = createLogger('crash-test', 'silent');
  const services = createDeliveryServices({
    handle,
    queue: new LocalJobQueue({ logger }),
    logger,
    now: () => new Date(),
    encryptionKey: keys.encryptionKey,
    trackingKey: Buffer.from(keys.trackingSecret, 'utf8'),
    publicBaseUrl: PUBLIC_BASE_URL,
    // The SMTP sink listens on loopback, which providers may point at only when allowed.
    outbound: outboundGuard({ allow: parseAllowList(EMBEDDED_OUTBOUND_ALLOWED) }),
  });
  const ctx = newOrg();
  const template = unwrap(
    await services.createTemplate(ctx, {
      name: 'crash',
      channel: 'email',
      category: 'transactional',
      source: { html: '<p>Hello {{context.n}}</p><a href="https://example.com/x">x</a>', subject: 'n {{context.n}}' },
    }),
  );
  unwrap(
    await services.createProviderConfig(ctx, {
      name: 'sink',
      kind: 'smtp',
      config: { host: '127.0.0.1', port: sinkPort, pool: { maxConnections: 8 } },
      isDefault: true,
    }),
  );
  for (let i = 0; i < total; i++)
    unwrap(
      await services.sendMessage(ctx, 'email', {
        templateId: template.id,
        to: `r${i}@example.com`,
        context: { n: i },
        idempotencyKey: `crash-${i}`,
      }),
    );
  return ctx;
}

/** Starts the engine process (fixtures/engine-process.ts), always under the same name and journal. */
function engineStarter(databaseUrl: string, keys: Keys): () => Promise<ChildProcess> {
  const owner = `crash-engine-${newId()}`;
  const journalDir = mkdtempSync(join(tmpdir(), 'crash-journal-'));
  const script = fileURLToPath(new URL('./fixtures/engine-process.ts', import.meta.url));
  return () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, script], {
        env: {
          ...process.env,
          DATABASE_URL: databaseUrl,
          ENGINE_OWNER: owner,
          ENGINE_JOURNAL_DIR: journalDir,
          DELIVERY_ENCRYPTION_KEY: keys.encryptionKey.toString('base64'),
          TRACKING_SECRET: keys.trackingSecret,
          PUBLIC_BASE_URL,
          // The sink listens on loopback.
          OUTBOUND_ALLOWED_HOSTS: EMBEDDED_OUTBOUND_ALLOWED,
          LOG_LEVEL: 'silent',
          ENGINE_BATCH_SIZE: '50',
          ENGINE_LANES: '2',
          ENGINE_SEND_CONCURRENCY: '8',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.once('error', reject);
      child.stdout!.once('data', () => resolve(child));
    });
}

async function until(check: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 60_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('an engine killed with SIGKILL mid-batch', () => {
  // Its own database: another suite's engine (the cluster-mode integration tests run one) would
  // claim this suite's messages.
  let database: Awaited<ReturnType<typeof ownTestDatabase>>;
  let handle: DatabaseHandle;
  let sink: SlowSink;
  beforeAll(async () => {
    database = await ownTestDatabase();
    handle = await openDatabase({ url: database.url, maxConnections: 4 });
    sink = await slowSink(15);
  });
  afterAll(async () => {
    await sink.close();
    await handle.close();
    await database.drop();
  });

  it('neither loses nor duplicates a message', async () => {
    await runMigrations(handle, deliveryModule().migrations);
    const keys: Keys = { encryptionKey: randomBytes(32), trackingSecret: randomBytes(32).toString('base64url') };
    const total = 400;
    const ctx = await queueMessages(handle, keys, sink.port, total);
    const pending = async () =>
      (
        await handle.rows<{ n: number }>(
          sql`select count(*)::int as n from delivery.messages where organization_id = ${ctx.organizationId} and status in ('queued', 'sending')`,
        )
      )[0]!.n;

    const start = engineStarter(database.url, keys);
    let engine = await start();
    for (const at of [100, 250]) {
      // Killed while messages are in flight: some handed over and waiting for their reply.
      await until(() => sink.received.size >= at, `${at} messages`);
      engine.kill('SIGKILL');
      await new Promise((r) => engine.once('exit', r));
      engine = await start();
    }
    await until(async () => (await pending()) === 0, 'every message settled');
    engine.kill('SIGTERM');

    const counts = [...sink.received.entries()].filter(([address]) => /^r\d+@example\.com$/.test(address));
    const duplicates = counts.filter(([, n]) => n > 1).map(([a]) => a);
    expect(duplicates).toEqual([]);
    expect(counts).toHaveLength(total);
    const statuses = await handle.rows<{ status: string; n: number }>(
      sql`select status, count(*)::int as n from delivery.messages where organization_id = ${ctx.organizationId} group by status`,
    );
    expect(statuses).toEqual([{ status: 'sent', n: total }]);
    // The kills did land mid-send: messages handed over whose reply the engine never read were
    // settled from its journal as sent (unconfirmed), not sent again.
    const [unconfirmed] = await handle.rows<{ n: number }>(
      sql`select count(*)::int as n from delivery.messages where organization_id = ${ctx.organizationId} and unconfirmed`,
    );
    expect(unconfirmed!.n).toBeGreaterThan(0);
  });
});
