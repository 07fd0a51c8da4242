import { catalogue, contextOf, createEvent, newId, topicOf } from '@mauntic/kernel';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deadLetterTopicOf, groupIdOf, type Subscription } from '../src/bus/event-bus.ts';
import { KafkaEventBus, type KafkaEventBusOptions, readDeadLetters } from '../src/bus/kafka-event-bus.ts';
import { testServices } from '../src/testing/index.ts';
import { eventBusContract } from './contract/event-bus.contract.ts';

const brokers = testServices.kafkaBrokers;
const kafka = new Kafka({ clientId: 'event-bus-test', brokers, logLevel: logLevel.ERROR });
// A plain producer, as a faulty or foreign service would use: no envelope, no validation.
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
const admin = kafka.admin();

beforeAll(async () => {
  await Promise.all([producer.connect(), admin.connect()]);
});
afterAll(async () => {
  await Promise.all([producer.disconnect(), admin.disconnect()]);
});

/** Remembers its groups so a test can delete their dead-letter topics and offsets afterwards. */
class TestBus extends KafkaEventBus {
  readonly groupNames: string[] = [];
  constructor(options: Partial<KafkaEventBusOptions> = {}) {
    super({
      brokers,
      clientId: 'event-bus-test',
      consumerSessionTimeoutMs: 10_000,
      topicPrefix: testServices.kafkaTopicPrefix,
      ...options,
    });
  }
  override subscribe(subscription: Subscription): void {
    this.groupNames.push(subscription.group);
    super.subscribe(subscription);
  }
  async close() {
    await this.stop();
    if (this.groupNames.length === 0) return;
    await admin.deleteTopics({
      topics: this.groupNames.map((g) => deadLetterTopicOf(g, testServices.kafkaTopicPrefix)),
    });
    // A group its member has just left may still be settling on a busy broker: try again briefly.
    const groups = this.groupNames.map((g) => groupIdOf(g, testServices.kafkaTopicPrefix));
    for (let attempt = 1; ; attempt++) {
      try {
        await admin.deleteGroups(groups);
        return;
      } catch (error) {
        if (attempt >= 10) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
}

eventBusContract('kafka', async () => {
  const bus = new TestBus();
  return {
    bus,
    start: async () => {
      await bus.start();
      await bus.ready();
    },
    publishRaw: async (raw) => {
      await producer.send({
        topic: topicOf(contextOf(raw.type), testServices.kafkaTopicPrefix),
        acks: -1,
        messages: [{ key: raw.subject.id, value: JSON.stringify(raw) }],
      });
    },
    deadLetters: (group) => readDeadLetters(brokers, group, { topicPrefix: testServices.kafkaTopicPrefix }),
    topicPrefix: testServices.kafkaTopicPrefix,
    close: () => bus.close(),
  };
});

describe('KafkaEventBus', () => {
  it('names its consumer groups under its topic prefix, so environments sharing a cluster keep their offsets apart', async () => {
    const bus = new TestBus();
    try {
      const group = `kafka-prefixed.${newId()}`;
      bus.subscribe({ group, contexts: ['identity'], handle: async () => {} });
      await bus.start();
      await bus.ready();
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId);
      expect(groups).toContain(`${testServices.kafkaTopicPrefix}.${group}`);
      expect(groups).not.toContain(group);
    } finally {
      await bus.close();
    }
  });

  it("puts a malformed message on the group's dead-letter topic with its origin, and the partition moves on", async () => {
    const bus = new TestBus();
    try {
      const group = `kafka-poison.${newId()}`;
      const org = newId();
      const key = newId();
      const handled: string[] = [];
      bus.subscribe({
        group,
        contexts: ['identity'],
        handle: async (event) => {
          if (event.organizationId === org) handled.push(event.id);
        },
      });
      await bus.start();
      await bus.ready();
      const good = createEvent(catalogue.identity.userCreated, {
        organizationId: org,
        subjectId: key,
        correlationId: newId(),
        data: { email: 'grace@example.com', name: 'Grace' },
      });
      const poison = `{not json ${newId()}`;
      const partition = 1;
      const [written] = await producer.send({
        topic: topicOf('identity', testServices.kafkaTopicPrefix),
        acks: -1,
        messages: [
          { key, value: poison, partition },
          { key, value: JSON.stringify(good), partition },
        ],
      });

      await vi.waitFor(() => expect(handled).toEqual([good.id]), { timeout: 20_000, interval: 20 });
      const letters = (await readDeadLetters(brokers, group, { topicPrefix: testServices.kafkaTopicPrefix })).filter(
        (letter) => letter.value === poison,
      );
      expect(letters).toEqual([
        {
          group,
          topic: topicOf('identity', testServices.kafkaTopicPrefix),
          value: poison,
          error: expect.stringMatching(/^not JSON: /),
          attempts: 0,
          key,
          originalPartition: partition,
          originalOffset: written?.baseOffset,
        },
      ]);
    } finally {
      await bus.close();
    }
  });

  it('sends publishes that come while a send is on its way together, in one request, and fails them together', async () => {
    const bus = new TestBus();
    try {
      const org = newId();
      const one = (i: number) =>
        createEvent(catalogue.identity.userCreated, {
          organizationId: org,
          subjectId: newId(),
          correlationId: newId(),
          data: { email: `c${i}@example.com`, name: 'c' },
        });
      await bus.publish([one(-1)]); // connected, topic made
      const producer = (bus as unknown as { producer: { sendBatch: (...args: unknown[]) => Promise<unknown> } })
        .producer;
      const sends = vi.spyOn(producer, 'sendBatch');
      await Promise.all(Array.from({ length: 50 }, (_, i) => bus.publish([one(i)])));
      // The first goes alone; the 49 that came meanwhile share the next request.
      expect(sends).toHaveBeenCalledTimes(2);
      sends.mockRestore();
      await bus.close();
      const refused = await Promise.allSettled(Array.from({ length: 3 }, (_, i) => bus.publish([one(100 + i)])));
      expect(refused.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    } finally {
      await bus.close();
    }
  });

  it("publishes a backlog larger than the broker's message size limit at once, every event once and in order", async () => {
    const bus = new TestBus();
    try {
      const org = newId();
      const subject = newId();
      // About 3 MB, on one subject (one partition): one batch of it would be refused (1 MB limit).
      const events = Array.from({ length: 3000 }, (_, i) =>
        createEvent(catalogue.identity.userCreated, {
          organizationId: org,
          subjectId: subject,
          correlationId: newId(),
          data: { email: `backlog${i}@example.com`, name: 'x'.repeat(900) },
        }),
      );
      expect(events.reduce((sum, e) => sum + JSON.stringify(e).length, 0)).toBeGreaterThan(2 * 1024 * 1024);
      const handled: string[] = [];
      bus.subscribe({
        group: `kafka-backlog.${newId()}`,
        contexts: ['identity'],
        handle: async (e) => {
          if (e.organizationId === org) handled.push(e.id);
        },
      });
      await bus.start();
      await bus.publish(events);
      await vi.waitFor(() => expect(handled).toHaveLength(events.length), { timeout: 60_000, interval: 50 });
      expect(handled).toEqual(events.map((e) => e.id));
    } finally {
      await bus.close();
    }
  });

  it('a new group receives events published before its first start', async () => {
    const bus = new TestBus();
    try {
      const org = newId();
      const event = createEvent(catalogue.identity.userCreated, {
        organizationId: org,
        subjectId: newId(),
        correlationId: newId(),
        data: { email: 'early@example.com', name: 'Early' },
      });
      await bus.publish([event]);
      const handled: string[] = [];
      bus.subscribe({
        group: `kafka-late.${newId()}`,
        contexts: ['identity'],
        handle: async (e) => {
          if (e.organizationId === org) handled.push(e.id);
        },
      });
      await bus.start();
      await vi.waitFor(() => expect(handled).toEqual([event.id]), { timeout: 20_000, interval: 20 });
    } finally {
      await bus.close();
    }
  });

  it('buses racing to create the same new topics all publish, and every partition has a leader', async () => {
    // A prefix nobody used: each bus finds the topics missing and creates them at the same time.
    const prefix = `${testServices.kafkaTopicPrefix}-race-${newId()}`;
    const buses = Array.from({ length: 4 }, () => new TestBus({ topicPrefix: prefix }));
    const topic = topicOf('identity', prefix);
    try {
      const org = newId();
      await Promise.all(
        buses.map((bus) =>
          bus.publish(
            [1, 2, 3].map(() =>
              createEvent(catalogue.identity.userCreated, {
                organizationId: org,
                subjectId: newId(),
                correlationId: newId(),
                data: { email: 'race@example.com', name: 'Race' },
              }),
            ),
          ),
        ),
      );
      const { topics: metadata } = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(metadata[0]?.partitions.length).toBe(3);
      expect(metadata[0]?.partitions.every((partition) => partition.leader >= 0)).toBe(true);
    } finally {
      await Promise.all(buses.map((bus) => bus.close()));
      if ((await admin.listTopics()).includes(topic)) await admin.deleteTopics({ topics: [topic] });
    }
  });

  it('measures consumer lag per group and topic, down to zero once consumed', async () => {
    // A fresh context of its own, so the topic holds exactly what this test puts there.
    const context = `lag${newId().replaceAll('-', '').slice(-12)}`;
    const bus = new TestBus();
    try {
      await producer.send({
        topic: topicOf(context, testServices.kafkaTopicPrefix),
        acks: -1,
        messages: Array.from({ length: 7 }, (_, i) => ({ key: `k${i % 2}`, value: `not an event ${i}` })),
      });
      const group = `kafka-lag.${newId()}`;
      bus.subscribe({ group, contexts: [context], handle: async () => {} });
      expect(await bus.measureLag()).toEqual({ [group]: { [topicOf(context, testServices.kafkaTopicPrefix)]: 7 } });
      await bus.start();
      // The malformed messages are dead-lettered and their offsets committed: nothing is left.
      await vi.waitFor(
        async () => expect((await bus.measureLag())[group]?.[topicOf(context, testServices.kafkaTopicPrefix)]).toBe(0),
        {
          timeout: 20_000,
          interval: 200,
        },
      );
    } finally {
      await bus.close();
      await admin.deleteTopics({ topics: [topicOf(context, testServices.kafkaTopicPrefix)] });
    }
  });

  it("commits a batch's offsets once it was handled; a batch in progress when its consumer dies comes back, and only it", async () => {
    // A fresh context of its own, so the topic holds exactly what this test puts there.
    const context = `batch${newId().replaceAll('-', '').slice(-12)}`;
    const topic = topicOf(context, testServices.kafkaTopicPrefix);
    const group = `kafka-batch-crash.${newId()}`;
    const events = (n: number) =>
      Array.from({ length: n }, () =>
        createEvent(catalogue.identity.userCreated, {
          organizationId: newId(),
          subjectId: newId(),
          correlationId: newId(),
          data: { email: 'batch@example.com', name: 'Batch' },
        }),
      );
    const send = (list: ReturnType<typeof events>) =>
      producer.send({
        topic,
        acks: -1,
        messages: list.map((e) => ({ key: e.subject.id, value: JSON.stringify(e) })),
      });
    // The events' context is identity; the topic is this test's own (a producer may put them anywhere).
    const first = events(30);
    const second = events(30);
    const handled: string[] = [];
    let down = false;
    let attemptsWhileDown = 0;
    const subscription = (sink: string[]) => ({
      group,
      contexts: [context],
      handle: async () => {
        throw new Error('batches here do not fail');
      },
      batch: {
        maxEvents: 100,
        handle: async (batch: { id: string }[]) => {
          if (down) {
            attemptsWhileDown++;
            // The database is out of reach: waited out, never dead-lettered, never committed.
            throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
          }
          sink.push(...batch.map((e) => e.id));
        },
      },
    });
    const crashed = new TestBus();
    const restarted = new TestBus();
    try {
      crashed.subscribe(subscription(handled));
      await crashed.start();
      await crashed.ready();
      await send(first);
      await vi.waitFor(() => expect(handled).toHaveLength(30), { timeout: 20_000, interval: 20 });
      // Committed as soon as handled: no lag left.
      await vi.waitFor(async () => expect((await crashed.measureLag())[group]?.[topic]).toBe(0), {
        timeout: 20_000,
        interval: 200,
      });

      down = true;
      await send(second);
      await vi.waitFor(() => expect(attemptsWhileDown).toBeGreaterThan(0), { timeout: 20_000, interval: 20 });
      await crashed.stop();
      expect(handled.sort()).toEqual(first.map((e) => e.id).sort());

      down = false;
      const redelivered: string[] = [];
      restarted.subscribe(subscription(redelivered));
      expect((await restarted.measureLag())[group]?.[topic]).toBe(30);
      await restarted.start();
      await vi.waitFor(() => expect(redelivered).toHaveLength(30), { timeout: 30_000, interval: 20 });
      expect(redelivered.sort()).toEqual(second.map((e) => e.id).sort());
      await vi.waitFor(async () => expect((await restarted.measureLag())[group]?.[topic]).toBe(0), {
        timeout: 20_000,
        interval: 200,
      });
    } finally {
      // One group: the restarted bus removes what both left behind.
      await crashed.stop();
      await restarted.close();
      await admin.deleteTopics({ topics: [topic] });
    }
  });

  it('answers ping when the broker is up and throws when it is not', async () => {
    const up = new TestBus();
    const down = new TestBus({ brokers: ['127.0.0.1:1'] });
    try {
      await up.ping();
      await expect(down.ping()).rejects.toThrow();
    } finally {
      await Promise.all([up.close(), down.close()]);
    }
  });
});
