// A consumer whose database connection drops (a restart, a failover) while it handles an event:
// the event waits for the database instead of being dead-lettered, and is applied once. The fault
// touches only the handler's own connections (pg_terminate_backend on its application_name); a row
// lock held by the test makes the handler wait where the connection is to drop.
import { catalogue, createEvent, type EventEnvelope, newId } from '@mauntic/kernel';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEventBus } from '../src/bus/local-event-bus.ts';
import { type DatabaseHandle, openDatabase } from '../src/db/database.ts';
import { createLogger } from '../src/logger.ts';
import { testServices } from '../src/testing/services.ts';
import { testContext } from './fixtures/outbox-schema.ts';

const ctx = testContext('bus_faults_test');
let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openDatabase({ url: testServices.databaseUrl });
  await ctx.create(handle);
});
afterAll(() => handle?.close());

async function until(check: () => Promise<boolean>, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('a consumer whose database connection drops', () => {
  // A batch handler waits the outage out the same way: its events are not handed to `handle`
  // one by one (which would throw here) and nothing is dead-lettered.
  it.each([
    ['', false],
    [' (batch handler)', true],
  ])(
    'retries the event until the database answers, without counting those tries, and applies it once%s',
    async (_, batched) => {
      const org = newId();
      const { id: thingId } = await ctx.createThing(handle.db, org, 'target');
      const app = `bus-faults-${newId()}`;
      const consumerDb = await openDatabase({ url: testServices.databaseUrl, maxConnections: 2, applicationName: app });
      const bus = new LocalEventBus({ logger: createLogger('bus-faults', 'silent') });
      const group = 'things-applier';
      // Applied once: the processed-events record and the effect in one statement.
      const apply = async (event: EventEnvelope) => {
        await consumerDb.rows(sql`
        with first as (
          insert into ${ctx.processedEvents} (consumer, event_id, organization_id)
          values (${group}, ${event.id}, ${event.organizationId}) on conflict do nothing returning 1)
        update ${ctx.things} set applied = applied + 1 where id = ${event.subject.id} and exists (select 1 from first)`);
      };
      bus.subscribe({
        group,
        contexts: ['identity'],
        maxAttempts: 3,
        handle: batched
          ? async () => {
              throw new Error('an outage is waited out, not handled one by one');
            }
          : apply,
        ...(batched && {
          batch: {
            maxEvents: 10,
            handle: async (events: EventEnvelope[]) => {
              for (const event of events) await apply(event);
            },
          },
        }),
      });
      await bus.start();

      // The test holds the row; the consumer's update waits for it, and its connection drops.
      let release!: () => void;
      const held = handle.db.transaction(async (tx) => {
        await tx.execute(sql`select 1 from ${ctx.things} where id = ${thingId} for update`);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });
      await until(async () => release !== undefined, 'the row lock');
      const event = createEvent(catalogue.identity.userCreated, {
        organizationId: org,
        subjectId: thingId,
        correlationId: newId(),
        data: { email: 'target@example.com', name: 'target' },
      });
      const delivered = bus.publish([event]);

      const waiting = async () =>
        (
          await handle.rows<{ n: number }>(
            sql`select count(*)::int as n from pg_stat_activity where application_name = ${app} and wait_event_type = 'Lock'`,
          )
        )[0]!.n > 0;
      // Twice as many dropped connections as the tries the subscription allows.
      for (let drop = 0; drop < 6; drop++) {
        await until(waiting, `the handler to try again (${drop + 1})`);
        await handle.rows(
          sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${app} and wait_event_type = 'Lock'`,
        );
      }
      await until(waiting, 'the handler to try again once more');
      expect(bus.deadLetters()).toEqual([]);

      release();
      await held;
      await delivered;
      await bus.stop();
      await consumerDb.close();
      expect(bus.deadLetters()).toEqual([]);
      const [thing] = await handle.db.select().from(ctx.things).where(eq(ctx.things.id, thingId));
      expect(thing?.applied).toBe(1);
    },
  );
});
