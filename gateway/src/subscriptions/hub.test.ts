// The hub's limits and resume window over the real local bus: subscriptions per organization,
// a client too slow for its queue dropped with 4008, and replay after an event id.
import { catalogue, createEvent, type EventEnvelope, newId, type OrganizationId } from '@mauntic/kernel';
import { createLogger, LocalEventBus } from '@mauntic/platform';
import { GraphQLError } from 'graphql';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT_FIELDS } from './fields.ts';
import { CLOSE, type CloseReason, type Connection, SubscriptionHub } from './hub.ts';
import { LocalEventSource } from './sources.ts';

const logger = createLogger('test', 'silent');
const organizationId = newId() as OrganizationId;

const deleted = (org = organizationId) =>
  createEvent(catalogue.crm.contactDeleted, {
    organizationId: org,
    subjectId: newId(),
    correlationId: 'test',
    data: { erased: false },
  });

function connection(): Connection & { closed: CloseReason[] } {
  const closed: CloseReason[] = [];
  return {
    caller: { correlationId: 'test', actor: { type: 'user', id: newId() }, organizationId, scopes: ['*:read'] },
    open: 0,
    closed,
    close: (reason) => closed.push(reason),
  };
}

const run = async (event: EventEnvelope) => ({ data: { id: event.id } });

describe('subscription hub', () => {
  let bus: LocalEventBus;
  let hub: SubscriptionHub;
  const start = async (limits = { perConnection: 10, perOrganization: 10, queue: 100 }) => {
    bus = new LocalEventBus({ logger });
    hub = new SubscriptionHub(new LocalEventSource(bus, 3_600_000, 1_000), limits, logger);
    await hub.start();
    await bus.start();
  };
  afterEach(async () => {
    await hub.stop();
    await bus.stop();
  });

  it('streams an organization its own events only, in order', async () => {
    await start();
    const results = await hub.subscribe(connection(), ROOT_FIELDS.contactDeleted!, {}, undefined, run);
    if (results instanceof GraphQLError) throw results;
    const mine = [deleted(), deleted()];
    await bus.publish([mine[0]!, deleted(newId()), mine[1]!]);
    const ids = [(await results.next()).value.id, (await results.next()).value.id];
    expect(ids).toEqual(mine.map((e) => e.id));
    await results.return(undefined);
  });

  it('refuses subscriptions past the per-organization and per-connection limits', async () => {
    await start({ perConnection: 1, perOrganization: 2, queue: 100 });
    const a = connection();
    expect(await hub.subscribe(a, ROOT_FIELDS.contactDeleted!, {}, undefined, run)).not.toBeInstanceOf(GraphQLError);
    const second = await hub.subscribe(a, ROOT_FIELDS.contactDeleted!, {}, undefined, run);
    expect((second as GraphQLError).extensions.code).toBe('SUBSCRIPTION_LIMIT');
    expect(await hub.subscribe(connection(), ROOT_FIELDS.contactDeleted!, {}, undefined, run)).not.toBeInstanceOf(
      GraphQLError,
    );
    const third = await hub.subscribe(connection(), ROOT_FIELDS.contactDeleted!, {}, undefined, run);
    expect((third as GraphQLError).message).toMatch(/one organization/);
  });

  it('drops a client that does not keep up with its queue (4008), without buffering more', async () => {
    await start({ perConnection: 10, perOrganization: 10, queue: 3 });
    const slow = connection();
    const results = await hub.subscribe(slow, ROOT_FIELDS.contactDeleted!, {}, undefined, run);
    if (results instanceof GraphQLError) throw results;
    await bus.publish([deleted(), deleted(), deleted()]);
    expect(slow.closed).toEqual([]);
    await bus.publish([deleted()]);
    expect(slow.closed).toEqual([CLOSE.SLOW_CONSUMER]);
    expect(slow.open).toBe(1);
    // What was queued is not delivered after the close: the client resumes with `after`.
    expect((await results.next()).done).toBe(true);
    expect(slow.open).toBe(0);
  });

  it('frees a subscription the client ends while no event comes (its slot, at once)', async () => {
    await start({ perConnection: 1, perOrganization: 1, queue: 100 });
    const client = connection();
    const quiet = await hub.subscribe(client, ROOT_FIELDS.contactDeleted!, {}, undefined, run);
    if (quiet instanceof GraphQLError) throw quiet;
    // Waiting for an event, as a client's open subscription does.
    const pending = quiet.next();
    await quiet.return(undefined);
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(client.open).toBe(0);
    const again = await hub.subscribe(client, ROOT_FIELDS.contactDeleted!, {}, undefined, run);
    expect(again).not.toBeInstanceOf(GraphQLError);
    await (again as AsyncGenerator).return(undefined);
  });

  it('replays what came after an event id, then the live events, without duplicates', async () => {
    await start();
    const [first, second, third] = [deleted(), deleted(), deleted()];
    await bus.publish([first!, second!, third!]);
    const results = await hub.subscribe(connection(), ROOT_FIELDS.contactDeleted!, {}, first!.id, run);
    if (results instanceof GraphQLError) throw results;
    const live = deleted();
    await bus.publish([live]);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await results.next()).value.id);
    expect(ids).toEqual([second!.id, third!.id, live.id]);
    const expired = await hub.subscribe(
      connection(),
      ROOT_FIELDS.contactDeleted!,
      {},
      newIdAt(Date.now() - 7_200_000),
      run,
    );
    expect((expired as GraphQLError).extensions.code).toBe('RESUME_EXPIRED');
    await results.return(undefined);
  });
});

/** A UUID v7 made at `ms`. */
function newIdAt(ms: number): string {
  const hex = ms.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7000-8000-000000000000`;
}
