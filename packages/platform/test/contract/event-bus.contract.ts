// The behaviour every EventBus adapter must show (see src/bus/event-bus.ts). Each test uses
// fresh group names and its own organization, and handlers ignore every other organization's
// events: a Kafka topic still holds what earlier tests and runs published.
import { setTimeout as sleep } from 'node:timers/promises';
import { catalogue, createEvent, type EventEnvelope, newId, topicOf } from '@mauntic/kernel';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DeadLetter, DeliveryInfo, EventBus } from '../../src/bus/event-bus.ts';

export interface EventBusHarness {
  /** A new bus; the test subscribes, then calls start(). */
  bus: EventBus;
  /** Starts the bus and resolves once every subscribed group is consuming. */
  start(): Promise<void>;
  /** Puts an envelope on its context's channel without the catalogue's say, as a faulty producer would. */
  publishRaw(raw: Record<string, unknown> & { type: string; subject: { id: string } }): Promise<void>;
  deadLetters(group: string): Promise<DeadLetter[]>;
  /** Stops the bus (may already be stopped) and removes what the test left behind. */
  close(): Promise<void>;
  /** The adapter's topic prefix: identity events travel on `<prefix>.identity.events`. */
  topicPrefix: string;
}

const WAIT = { timeout: 20_000, interval: 20 };

const userCreated = (organizationId: string, subjectId: string = newId(), name = 'Ada') =>
  createEvent(catalogue.identity.userCreated, {
    organizationId,
    subjectId,
    correlationId: newId(),
    data: { email: `user-${subjectId}@example.com`, name },
  });

const nameOf = (event: EventEnvelope) => catalogue.identity.userCreated.data.parse(event.data).name;
const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);

export function eventBusContract(name: string, harness: () => Promise<EventBusHarness>) {
  describe(`EventBus contract: ${name}`, () => {
    let current: EventBusHarness | undefined;
    const open = async () => {
      current = await harness();
      return current;
    };
    const group = (label: string) => `contract.${name}.${label}.${newId()}`;
    const TOPIC_OF = () => topicOf('identity', current!.topicPrefix);

    afterEach(async () => {
      await current?.close();
      current = undefined;
    });

    it('delivers each published event to every subscribed group', async () => {
      const { bus, start } = await open();
      const org = newId();
      const seen: Record<'a' | 'b', Array<{ event: EventEnvelope; info: DeliveryInfo }>> = { a: [], b: [] };
      for (const label of ['a', 'b'] as const) {
        bus.subscribe({
          group: group(label),
          contexts: ['identity'],
          handle: async (event, info) => {
            if (event.organizationId === org) seen[label].push({ event, info });
          },
        });
      }
      await start();
      const events = [userCreated(org), userCreated(org), userCreated(org)].sort(byId);
      await bus.publish(events);

      await vi.waitFor(() => {
        expect(seen.a).toHaveLength(3);
        expect(seen.b).toHaveLength(3);
      }, WAIT);
      for (const deliveries of [seen.a, seen.b]) {
        expect(deliveries.map((d) => d.event).sort(byId)).toEqual(events);
        expect(deliveries.map((d) => d.info)).toEqual(Array(3).fill({ attempt: 1, topic: TOPIC_OF() }));
      }
    });

    it("keeps each subject's events in publish order", async () => {
      const { bus, start } = await open();
      const org = newId();
      const subjects = Array.from({ length: 10 }, () => newId());
      const received = new Map<string, number[]>(subjects.map((s) => [s, []]));
      bus.subscribe({
        group: group('order'),
        contexts: ['identity'],
        handle: async (event) => {
          if (event.organizationId !== org) return;
          // Uneven handling times give a reordering bug every chance to show.
          await sleep(Math.random() < 0.2 ? 3 : 0);
          received.get(event.subject.id)?.push(Number(nameOf(event)));
        },
      });
      await start();
      // Subjects interleaved: event i belongs to subject i % 10 and carries i as its name.
      const events: EventEnvelope[] = [];
      for (let round = 0; round < 20; round++) {
        for (const subject of subjects) events.push(userCreated(org, subject, String(events.length)));
      }
      for (let i = 0; i < events.length; i += 50) await bus.publish(events.slice(i, i + 50));

      await vi.waitFor(() => expect([...received.values()].flat()).toHaveLength(200), WAIT);
      subjects.forEach((subject, s) => {
        const expected = Array.from({ length: 20 }, (_, k) => s + k * subjects.length);
        expect(received.get(subject)).toEqual(expected);
      });
    });

    it("keeps each publisher's order when many publish at once", async () => {
      const { bus, start } = await open();
      const org = newId();
      const subjects = Array.from({ length: 20 }, () => newId());
      const received = new Map<string, number[]>(subjects.map((s) => [s, []]));
      bus.subscribe({
        group: group('concurrent'),
        contexts: ['identity'],
        handle: async (event) => {
          if (event.organizationId === org) received.get(event.subject.id)?.push(Number(nameOf(event)));
        },
      });
      await start();
      // 20 publishers at once, each publishing 3 times 5 events of its own subject, 0 to 14.
      await Promise.all(
        subjects.map(async (subject) => {
          for (let round = 0; round < 3; round++)
            await bus.publish(Array.from({ length: 5 }, (_, i) => userCreated(org, subject, String(round * 5 + i))));
        }),
      );
      await vi.waitFor(() => expect([...received.values()].flat()).toHaveLength(300), WAIT);
      for (const subject of subjects) expect(received.get(subject)).toEqual(Array.from({ length: 15 }, (_, i) => i));
    });

    it('passes only the subscribed event types to the handler', async () => {
      const { bus, start } = await open();
      const org = newId();
      const types: string[] = [];
      bus.subscribe({
        group: group('types'),
        contexts: ['identity'],
        types: ['identity.user.created'],
        handle: async (event) => {
          if (event.organizationId === org) types.push(event.type);
        },
      });
      await start();
      const userId = newId();
      const added = createEvent(catalogue.identity.memberAdded, {
        organizationId: org,
        subjectId: userId,
        correlationId: newId(),
        data: { userId, role: 'editor' },
      });
      // Same subject, so the member.added event is settled before the user.created one arrives.
      await bus.publish([added, userCreated(org, userId)]);

      await vi.waitFor(() => expect(types).toHaveLength(1), WAIT);
      expect(types).toEqual(['identity.user.created']);
    });

    it('retries a failing handler in place and does not dead-letter an event that then succeeds', async () => {
      const { bus, start, deadLetters } = await open();
      const org = newId();
      const name = group('retry');
      const attempts: number[] = [];
      const handled: string[] = [];
      const subject = newId();
      const flaky = userCreated(org, subject);
      const next = userCreated(org, subject);
      bus.subscribe({
        group: name,
        contexts: ['identity'],
        handle: async (event, info) => {
          if (event.organizationId !== org) return;
          if (event.id === flaky.id) {
            attempts.push(info.attempt);
            if (info.attempt < 3) throw new Error(`not yet (${info.attempt})`);
          }
          handled.push(event.id);
        },
      });
      await start();
      await bus.publish([flaky, next]);

      await vi.waitFor(() => expect(handled).toEqual([flaky.id, next.id]), WAIT);
      expect(attempts).toEqual([1, 2, 3]);
      expect((await deadLetters(name)).filter((l) => l.value.includes(org))).toEqual([]);
    });

    it('dead-letters an event after maxAttempts failures and moves on to the next one', async () => {
      const { bus, start, deadLetters } = await open();
      const org = newId();
      const name = group('dlq');
      const subject = newId();
      const poison = userCreated(org, subject);
      const next = userCreated(org, subject);
      const attempts: number[] = [];
      const handled: string[] = [];
      bus.subscribe({
        group: name,
        contexts: ['identity'],
        maxAttempts: 3,
        handle: async (event, info) => {
          if (event.organizationId !== org) return;
          if (event.id === poison.id) {
            attempts.push(info.attempt);
            throw new Error(`cannot handle ${poison.id}`);
          }
          handled.push(event.id);
        },
      });
      await start();
      await bus.publish([poison, next]);

      await vi.waitFor(() => expect(handled).toEqual([next.id]), WAIT);
      expect(attempts).toEqual([1, 2, 3]);
      const letters = (await deadLetters(name)).filter((l) => l.value.includes(org));
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({
        group: name,
        topic: TOPIC_OF(),
        error: `cannot handle ${poison.id}`,
        attempts: 3,
      });
      expect(JSON.parse(letters[0]?.value ?? '')).toEqual(poison);
    });

    it('dead-letters an event that fails catalogue validation without calling the handler', async () => {
      const { bus, start, publishRaw, deadLetters } = await open();
      const org = newId();
      const name = group('invalid');
      const subject = newId();
      const handled: string[] = [];
      bus.subscribe({
        group: name,
        contexts: ['identity'],
        handle: async (event) => {
          if (event.organizationId === org) handled.push(event.id);
        },
      });
      await start();
      const unknown = { ...userCreated(org, subject), type: 'identity.user.teleported' };
      const valid = userCreated(org, subject);
      await publishRaw(unknown);
      await bus.publish([valid]);

      await vi.waitFor(() => expect(handled).toEqual([valid.id]), WAIT);
      const letters = (await deadLetters(name)).filter((l) => l.value.includes(org));
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ group: name, topic: TOPIC_OF(), attempts: 0 });
      expect(letters[0]?.error).toContain('unknown event identity.user.teleported v1');
      expect(JSON.parse(letters[0]?.value ?? '')).toEqual(unknown);
    });

    it('hands a batch group its events in batches of up to maxEvents, each once, in per-subject order', async () => {
      const { bus, start } = await open();
      const org = newId();
      const subjects = Array.from({ length: 5 }, () => newId());
      const received = new Map<string, number[]>(subjects.map((s) => [s, []]));
      const sizes: number[] = [];
      bus.subscribe({
        group: group('batch'),
        contexts: ['identity'],
        handle: async () => {
          throw new Error('a batch that succeeds is not handled one by one');
        },
        batch: {
          maxEvents: 50,
          handle: async (events, info) => {
            expect(info).toEqual({ topic: TOPIC_OF() });
            const ours = events.filter((event) => event.organizationId === org);
            if (ours.length > 0) sizes.push(ours.length);
            for (const event of ours) received.get(event.subject.id)?.push(Number(nameOf(event)));
          },
        },
      });
      await start();
      const events: EventEnvelope[] = [];
      for (let round = 0; round < 40; round++) {
        for (const subject of subjects) events.push(userCreated(org, subject, String(events.length)));
      }
      await bus.publish(events);

      await vi.waitFor(() => expect([...received.values()].flat()).toHaveLength(200), WAIT);
      subjects.forEach((subject, s) => {
        expect(received.get(subject)).toEqual(Array.from({ length: 40 }, (_, k) => s + k * subjects.length));
      });
      expect(Math.max(...sizes)).toBeGreaterThan(1);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
    });

    it('handles a failing batch one event at a time: the poisoned event is dead-lettered, its batch-mates handled', async () => {
      const { bus, start, deadLetters } = await open();
      const org = newId();
      const name = group('batch-dlq');
      const events = Array.from({ length: 10 }, () => userCreated(org));
      const poison = events[4]!;
      const handled: string[] = [];
      const applied: string[] = [];
      bus.subscribe({
        group: name,
        contexts: ['identity'],
        maxAttempts: 2,
        handle: async (event) => {
          if (event.organizationId !== org) return;
          if (event.id === poison.id) throw new Error(`cannot handle ${poison.id}`);
          handled.push(event.id);
        },
        batch: {
          maxEvents: 100,
          handle: async (batch) => {
            // All or nothing, as in one transaction.
            if (batch.some((event) => event.id === poison.id)) throw new Error(`cannot handle ${poison.id}`);
            applied.push(...batch.filter((event) => event.organizationId === org).map((event) => event.id));
          },
        },
      });
      await start();
      await bus.publish(events);

      const others = events.filter((event) => event !== poison).map((event) => event.id);
      await vi.waitFor(() => expect([...handled, ...applied].sort()).toEqual([...others].sort()), WAIT);
      await vi.waitFor(async () => {
        const letters = (await deadLetters(name)).filter((l) => l.value.includes(org));
        expect(letters).toHaveLength(1);
        expect(letters[0]).toMatchObject({ group: name, error: `cannot handle ${poison.id}`, attempts: 2 });
        expect(JSON.parse(letters[0]?.value ?? '')).toEqual(poison);
      }, WAIT);
      // The poisoned event's batch-mates were handled one by one.
      expect(handled.length).toBeGreaterThan(0);
    });

    it('stop() waits for a handler in progress to finish', async () => {
      const { bus, start } = await open();
      const org = newId();
      let started = false;
      let finished = false;
      bus.subscribe({
        group: group('stop'),
        contexts: ['identity'],
        handle: async (event) => {
          if (event.organizationId !== org) return;
          started = true;
          await sleep(500);
          finished = true;
        },
      });
      await start();
      // Not awaited yet: the local bus resolves publish() only once the handler is done.
      const published = bus.publish([userCreated(org)]);

      await vi.waitFor(() => expect(started).toBe(true), WAIT);
      expect(finished).toBe(false);
      await bus.stop();
      expect(finished).toBe(true);
      await published;
    });
  });
}
