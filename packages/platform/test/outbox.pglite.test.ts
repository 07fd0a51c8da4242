// The same outbox on PGlite with the in-process bus, as embedded mode runs it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EventEnvelope, newId } from '@mauntic/kernel';
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalEventBus } from '../src/bus/local-event-bus.ts';
import { type DatabaseHandle, openDatabase } from '../src/db/database.ts';
import { FolderLockedError } from '../src/db/folder-lock.ts';
import { createLogger } from '../src/logger.ts';
import { applyOnce } from '../src/outbox/processed-events.ts';
import { OutboxRelay } from '../src/outbox/relay.ts';
import { testContext } from './fixtures/outbox-schema.ts';

const logger = createLogger('test', 'silent');
const ctx = testContext('outbox_lite_test');
const dataDir = mkdtempSync(join(tmpdir(), 'mauntic-pglite-'));
let handle: DatabaseHandle;

beforeAll(async () => {
  handle = await openDatabase({ dataDir });
  await ctx.create(handle);
});
afterAll(() => handle?.close());

describe('transactional outbox (pglite + local bus)', () => {
  it('delivers a committed event to a local consumer without polling, and a redelivery changes nothing', async () => {
    const org = newId();
    const bus = new LocalEventBus({ logger });
    const seen: EventEnvelope[] = [];
    bus.subscribe({
      group: 'things-applier',
      contexts: ['identity'],
      handle: async (e) => {
        seen.push(e);
        // The consumer writes to the same PGlite while the relay waits on it: no deadlock.
        await applyOnce(handle.db, ctx.processedEvents, 'things-applier', e, async (tx) => {
          await tx
            .update(ctx.things)
            .set({ applied: sql`${ctx.things.applied} + 1` })
            .where(eq(ctx.things.id, e.subject.id));
        });
      },
    });
    await bus.start();
    // A long poll interval: only the NOTIFY sent on commit can wake the relay in time.
    const relay = new OutboxRelay({
      handle,
      context: 'identity',
      table: ctx.outbox,
      bus,
      logger,
      pollIntervalMs: 60_000,
    });
    await relay.start();
    const { id, event } = await ctx.createThing(handle.db, org, 'local');
    const deadline = Date.now() + 5000;
    while (seen.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((e) => e.id)).toEqual([event.id]);

    await bus.publish([event]); // redelivered
    const [thing] = await handle.db.select().from(ctx.things).where(eq(ctx.things.id, id));
    expect(seen).toHaveLength(2);
    expect(thing?.applied).toBe(1);
    await relay.stop();
    await bus.stop();
  });

  it('refuses a second database on a folder that is in use', async () => {
    await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(FolderLockedError);
  });
});
