// The webhook delivery log's retention on a real database (Postgres, PGlite): settled deliveries
// older than the retention go with their attempts, batch by batch; pending ones, and ones
// attempted within the retention (a replay), stay; the dispatcher runs it when it starts.
import { catalogue, createEvent, newId, unwrap } from '@mauntic/kernel';
import { type DatabaseHandle, openDatabase } from '@mauntic/platform';
import { ownTestDatabase } from '@mauntic/platform/testing';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pruneWebhookDeliveries } from '../src/app/dispatcher/retention.ts';
import { WebhookDispatcher } from '../src/app/dispatcher/webhook-dispatcher.ts';
import { recordWebhookEvent } from '../src/app/webhook-events.ts';
import { webhookAttempts } from '../src/db/schema.ts';
import { encryptionKey, LOOPBACK_ALLOWED, logger, newOrg, openIntegrations } from './harness.ts';

const DAY = 86_400_000;

const DATABASES = [
  [
    'postgres',
    async () => {
      // The retention deletes every organization's old deliveries: a database of its own.
      const own = await ownTestDatabase();
      const handle = await openDatabase({ url: own.url, maxConnections: 4 });
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

describe.each(DATABASES)('the webhook delivery log retention (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openIntegrations>>;
  let endpointId: string;
  const org = newOrg();

  beforeEach(async () => {
    env = await openIntegrations(open);
    endpointId = unwrap(
      await env.services.createWebhookEndpoint(org, {
        url: 'http://127.0.0.1:9/hook',
        eventTypes: ['crm.segment.entered'],
      }),
    ).id;
  });
  afterEach(() => env.close());

  /** A delivery recorded `ageDays` ago, in `status`, with an attempt `attemptedDaysAgo` (if given). */
  const delivery = async (ageDays: number, status: string, attemptedDaysAgo?: number) => {
    const event = createEvent(catalogue.crm.segmentEntered, {
      organizationId: org.organizationId,
      subjectId: newId(),
      data: { segmentId: newId() },
      correlationId: newId(),
    });
    await recordWebhookEvent({ handle: env.handle }, event);
    const createdAt = new Date(Date.now() - ageDays * DAY).toISOString();
    const [row] = await env.handle.rows<{ id: string }>(sql`
      update integrations.webhook_deliveries
      set created_at = ${createdAt}::timestamptz, status = ${status}, next_attempt_at = null
      where event_id = ${event.id} returning id`);
    if (attemptedDaysAgo !== undefined)
      await env.handle.db.insert(webhookAttempts).values({
        deliveryId: row!.id,
        attempt: 1,
        organizationId: org.organizationId,
        statusCode: 200,
        latencyMs: 5,
        attemptedAt: new Date(Date.now() - attemptedDaysAgo * DAY),
      });
    return row!.id;
  };
  const deliveries = async () =>
    (await env.handle.rows<{ id: string }>(sql`select id from integrations.webhook_deliveries order by id`)).map(
      (r) => r.id,
    );
  const attempts = async () =>
    (await env.handle.rows<{ n: number }>(sql`select count(*)::int as n from integrations.webhook_attempts`))[0]!.n;

  it('deletes settled deliveries past the retention with their attempts, in batches, and keeps the rest', async () => {
    const expired = [
      ...(await Promise.all(Array.from({ length: 5 }, () => delivery(40, 'succeeded', 40)))),
      await delivery(31, 'failed', 31),
      await delivery(90, 'failed'),
    ];
    const kept = [
      await delivery(40, 'pending', 39),
      await delivery(40, 'succeeded', 1), // replayed yesterday
      await delivery(1, 'succeeded', 1),
      await delivery(29, 'failed', 29),
    ];
    expect(await attempts()).toBe(10);

    // Batches of 2: four statements for seven deliveries.
    expect(await pruneWebhookDeliveries(env.handle, new Date(Date.now() - 30 * DAY), 2)).toBe(expired.length);
    expect(await deliveries()).toEqual([...kept].sort());
    expect(await attempts()).toBe(4);
    // Nothing left to delete: a second pass deletes nothing.
    expect(await pruneWebhookDeliveries(env.handle, new Date(Date.now() - 30 * DAY), 2)).toBe(0);
    // The endpoint itself stays.
    expect(
      (await env.handle.rows(sql`select 1 from integrations.webhook_endpoints where id = ${endpointId}`)).length,
    ).toBe(1);
  });

  it('is run by the dispatcher, with its retention in days, when it starts', async () => {
    const old = await delivery(10, 'succeeded', 10);
    const recent = await delivery(5, 'succeeded', 5);
    const dispatcher = new WebhookDispatcher({
      handle: env.handle,
      logger,
      encryptionKey,
      outbound: LOOPBACK_ALLOWED,
      pollMs: 20,
      retentionDays: 7,
    });
    await dispatcher.start();
    const deadline = Date.now() + 10_000;
    while ((await deliveries()).includes(old) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await dispatcher.stop();
    expect(await deliveries()).toEqual([recent]);
  });
});
