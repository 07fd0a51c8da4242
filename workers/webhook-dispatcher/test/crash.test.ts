// The dispatcher killed with SIGKILL twice in the middle of sending and started again: every
// delivery reached the receiver (none lost); the only repeats are deliveries that were in flight
// when a process died (at least once: their leases ran out and they were sent again).
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { catalogue, createEvent, newId, type OrganizationId, type RequestContext, unwrap } from '@mauntic/kernel';
import {
  createLogger,
  generateEncryptionKey,
  openDatabase,
  outboundGuard,
  parseEncryptionKey,
  rowsOf,
  runMigrations,
} from '@mauntic/platform';
import { ownTestDatabase, TYPESCRIPT_NODE_ARGS } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { createIntegrationsServices } from '../../../subgraphs/integrations/src/app/services.ts';
import { recordWebhookEvent } from '../../../subgraphs/integrations/src/app/webhook-events.ts';
import { integrationsModule } from '../../../subgraphs/integrations/src/module.ts';

const EVENTS = 400;
const CAPACITY = 16;

describe('the webhook dispatcher killed with SIGKILL mid-run', () => {
  it('loses no delivery and repeats only what was in flight', async () => {
    const own = await ownTestDatabase();
    const handle = await openDatabase({ url: own.url, maxConnections: 3 });
    await runMigrations(handle, integrationsModule().migrations);
    const key = generateEncryptionKey();
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        // Slow enough that a kill finds deliveries in flight.
        setTimeout(() => {
          received.push(JSON.parse(body).id);
          res.end('ok');
        }, 25);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const { port } = receiver.address() as AddressInfo;

    const start = () =>
      new Promise<ChildProcess>((resolve, reject) => {
        const script = fileURLToPath(new URL('./fixtures/dispatcher-process.ts', import.meta.url));
        const child = spawn(process.execPath, [...TYPESCRIPT_NODE_ARGS, script], {
          env: {
            ...process.env,
            DATABASE_URL: own.url,
            LOG_LEVEL: 'silent',
            INTEGRATIONS_ENCRYPTION_KEY: key,
            OUTBOUND_ALLOWED_HOSTS: '127.0.0.1',
            WEBHOOK_CAPACITY: String(CAPACITY),
            WEBHOOK_POLL_MS: '20',
            // The lease is the timeout + 30 s: what a killed process held is sent again after that.
            WEBHOOK_TIMEOUT_MS: '1000',
          },
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        child.once('error', reject);
        child.stdout!.once('data', () => resolve(child));
      });
    const kill = (child: ChildProcess) =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });

    const organizationId = newId() as OrganizationId;
    const ctx: RequestContext = {
      correlationId: newId(),
      actor: { type: 'user', id: newId() },
      organizationId,
      role: 'owner',
      scopes: ['*:read', '*:write', '*:admin'],
    };
    const services = createIntegrationsServices({
      handle,
      logger: createLogger('crash-test', 'silent'),
      encryptionKey: parseEncryptionKey(key),
      outbound: outboundGuard({ allow: ['127.0.0.1'] }),
    });
    const endpoint = unwrap(
      await services.createWebhookEndpoint(ctx, {
        url: `http://127.0.0.1:${port}/hook`,
        eventTypes: ['crm.segment.entered'],
        maxConcurrency: CAPACITY,
      }),
    );
    const ids = new Set<string>();
    for (let i = 0; i < EVENTS; i++) {
      const event = createEvent(catalogue.crm.segmentEntered, {
        organizationId,
        subjectId: newId(),
        data: { segmentId: newId() },
        correlationId: newId(),
      });
      ids.add(event.id);
      await recordWebhookEvent({ handle }, event);
    }

    for (const killAt of [EVENTS / 4, EVENTS / 2]) {
      const dispatcher = await start();
      while (received.length < killAt) await new Promise((r) => setTimeout(r, 5));
      await kill(dispatcher);
    }
    expect(new Set(received).size).toBeLessThan(EVENTS);
    const last = await start();
    const pending = async () =>
      rowsOf<{ n: number }>(
        await handle.db.execute(
          sql`select count(*)::int as n from integrations.webhook_deliveries
              where endpoint_id = ${endpoint.id} and status <> 'succeeded'`,
        ),
      )[0]!.n;
    const deadline = Date.now() + 150_000;
    while ((await pending()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await kill(last);
    receiver.close();

    expect(await pending()).toBe(0);
    // None lost.
    expect(new Set(received)).toEqual(ids);
    // Repeats only of what two killed processes can have had in flight.
    const duplicates = received.length - ids.size;
    expect(duplicates).toBeLessThanOrEqual(2 * CAPACITY);
    await handle.close();
    await own.drop();
  }, 240_000);
});
