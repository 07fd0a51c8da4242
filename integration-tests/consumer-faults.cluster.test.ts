// CRM's consumers across a Kafka broker restart, on a broker of this test's own (started and
// restarted through scripts/services.sh; the one other suites use is never touched): every
// delivery event is applied once — the one published again because the restart lost its
// acknowledgement included, as the outbox relay does — and the consumers go on without a restart.
import { createCrmServices } from '@mauntic/crm/services';
import {
  catalogue,
  createEvent,
  type EventEnvelope,
  newId,
  type OrganizationId,
  type RequestContext,
  unwrap,
} from '@mauntic/kernel';
import {
  createLogger,
  type DatabaseHandle,
  KafkaEventBus,
  LocalJobQueue,
  openDatabase,
  type Subscription,
  sql,
} from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PrivateKafka, startPrivateKafka } from '../packages/platform/test/fixtures/private-kafka.ts';

const logger = createLogger('consumer-faults', 'silent');
const topicPrefix = `consumer-faults-${newId()}`;
let kafka: PrivateKafka;
let handle: DatabaseHandle;

beforeAll(async () => {
  kafka = await startPrivateKafka();
  handle = await openDatabase({ url: testServices.databaseUrl, maxConnections: 5 });
});
afterAll(async () => {
  await handle?.close();
  await kafka?.close();
});

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('CRM consumers when the broker restarts', () => {
  it('apply each delivery event once, a republished one included, and keep consuming after the restart', async () => {
    const queue = new LocalJobQueue({ logger });
    const crm = createCrmServices({ handle, queue, logger, now: () => new Date() });
    for (const job of crm.jobs()) queue.register(job);
    await queue.start();
    const bus = new KafkaEventBus({ brokers: kafka.brokers, clientId: 'crm', topicPrefix, logger });
    // CRM's own handlers, watched: which events reached them, how many times.
    const deliveries: string[] = [];
    for (const subscription of crm.subscriptions())
      bus.subscribe({
        ...subscription,
        handle: async (event, info) => {
          deliveries.push(event.id);
          await subscription.handle(event, info);
        },
      } satisfies Subscription);
    await bus.start();
    await bus.ready();
    const relay = new KafkaEventBus({ brokers: kafka.brokers, clientId: 'relay', topicPrefix, logger });

    const org = newId() as OrganizationId;
    const ctx: RequestContext = {
      correlationId: newId(),
      actor: { type: 'user', id: newId() },
      organizationId: org,
      role: 'owner',
      scopes: ['*:read', '*:write', '*:admin'],
    };
    const ada = unwrap(await crm.createContact(ctx, { email: 'ada@example.com' }));
    const sent = (): EventEnvelope =>
      createEvent(catalogue.delivery.messageSent, {
        organizationId: org,
        subjectId: ada.id,
        correlationId: newId(),
        data: {
          messageId: newId(),
          contactId: ada.id,
          channel: 'email',
          address: 'ada@example.com',
          templateId: null,
          source: { kind: 'campaign', id: 'spring', stepId: null },
        },
      });
    const applied = async () =>
      (
        await handle.rows<{ message_id: string; n: number }>(sql`
          select properties->>'messageId' as message_id, count(*)::int as n from crm.activities
          where organization_id = ${org} and contact_id = ${ada.id} and type = 'email.sent'
          group by 1`)
      ).reduce((m, r) => m.set(r.message_id, r.n), new Map<string, number>());
    const messageOf = (e: EventEnvelope) => (e.data as { messageId: string }).messageId;

    const before = sent();
    await relay.publish([before]);
    await until(async () => (await applied()).has(messageOf(before)), 'the first event to be applied');

    await kafka.restart();
    // Published again (its acknowledgement lost in the restart), then the next one; a publish
    // the broker refuses while it comes back is tried again, as the relay would.
    const after = sent();
    await until(
      () =>
        relay.publish([before, after]).then(
          () => true,
          () => false,
        ),
      'the broker to take the events',
    );
    await until(
      async () => (await applied()).has(messageOf(after)) && deliveries.filter((id) => id === before.id).length >= 2,
      'the consumers to receive both events after the restart',
    );

    await bus.stop();
    await relay.stop();
    await queue.stop();
    expect(Object.fromEntries(await applied())).toEqual({ [messageOf(before)]: 1, [messageOf(after)]: 1 });
    const [processed] = await handle.rows<{ n: number }>(
      sql`select count(*)::int as n from crm.processed_events where event_id = ${before.id}`,
    );
    expect(processed!.n).toBe(1);
  });
});
