import { setTimeout as sleep } from 'node:timers/promises';
import { catalogue, createEvent, type EventEnvelope, newId } from '@mauntic/kernel';
import { describe, expect, it } from 'vitest';
import { LocalEventBus } from '../src/bus/local-event-bus.ts';
import { traceparentOf } from '../src/telemetry/tracing.ts';
import { traceToReceiver } from '../src/testing/otlp-receiver.ts';
import { eventBusContract } from './contract/event-bus.contract.ts';

eventBusContract('local', async () => {
  const bus = new LocalEventBus();
  return {
    bus,
    start: () => bus.start(),
    publishRaw: (raw) => bus.publish([raw as unknown as EventEnvelope]),
    deadLetters: async (group) => bus.deadLetters().filter((letter) => letter.group === group),
    topicPrefix: 'mauntic',
    close: () => bus.stop(),
  };
});

const userCreated = (organizationId: string, subjectId: string = newId()) =>
  createEvent(catalogue.identity.userCreated, {
    organizationId,
    subjectId,
    correlationId: newId(),
    data: { email: `user-${subjectId}@example.com`, name: 'Ada' },
  });

describe('LocalEventBus', () => {
  it('resolves publish() only after every subscribed group has handled the event', async () => {
    const bus = new LocalEventBus();
    const done: string[] = [];
    for (const [group, ms] of [
      ['fast', 0],
      ['slow', 100],
    ] as const) {
      bus.subscribe({
        group,
        contexts: ['identity'],
        handle: async () => {
          await sleep(ms);
          done.push(group);
        },
      });
    }
    await bus.start();
    await bus.publish([userCreated(newId())]);
    expect(done.sort()).toEqual(['fast', 'slow']);
    await bus.stop();
  });

  it('handles different subjects concurrently', async () => {
    const bus = new LocalEventBus();
    let running = 0;
    let most = 0;
    bus.subscribe({
      group: 'concurrent',
      contexts: ['identity'],
      handle: async () => {
        most = Math.max(most, ++running);
        await sleep(20);
        running--;
      },
    });
    await bus.start();
    await bus.publish([userCreated(newId()), userCreated(newId()), userCreated(newId())]);
    expect(most).toBe(3);
    await bus.stop();
  });

  it('drops events published before start() and refuses them after stop()', async () => {
    const bus = new LocalEventBus();
    const handled: string[] = [];
    bus.subscribe({ group: 'g', contexts: ['identity'], handle: async (event) => void handled.push(event.id) });
    await bus.publish([userCreated(newId())]);
    await bus.start();
    const event = userCreated(newId());
    await bus.publish([event]);
    await bus.stop();
    await expect(bus.publish([userCreated(newId())])).rejects.toThrow('stopped');
    await expect(bus.ping()).rejects.toThrow('stopped');
    expect(handled).toEqual([event.id]);
  });

  it('keeps only the most recent dead letters', async () => {
    const bus = new LocalEventBus({ deadLetterLimit: 3 });
    bus.subscribe({
      group: 'failing',
      contexts: ['identity'],
      maxAttempts: 1,
      handle: async (event) => {
        throw new Error(`no ${event.id}`);
      },
    });
    await bus.start();
    const events = Array.from({ length: 5 }, () => userCreated(newId()));
    await bus.publish(events);
    expect(bus.deadLetters().map((letter) => letter.error)).toEqual(events.slice(2).map((e) => `no ${e.id}`));
    await bus.stop();
  });

  it("continues the trace of a batch's events when they share one (a single request, a campaign's launch)", async () => {
    const tracing = await traceToReceiver('bus-test');
    const bus = new LocalEventBus();
    try {
      const traces: (string | undefined)[] = [];
      bus.subscribe({
        group: 'traced-batch',
        contexts: ['identity'],
        handle: async () => {},
        batch: { maxEvents: 10, handle: async () => void traces.push(traceparentOf()?.split('-')[1]) },
      });
      await bus.start();
      const launch = '0af7651916cd43dd8448eb211c80319c';
      const traced = (trace: string) => ({ ...userCreated(newId()), traceparent: `00-${trace}-b7ad6b7169203331-01` });
      await bus.publish([traced(launch), traced(launch)]);
      await bus.publish([traced(launch), traced('1bf7651916cd43dd8448eb211c80319d')]);
      expect(traces[0]).toBe(launch);
      // Events of different traces: the batch's span starts one of its own.
      expect(traces[1]).toMatch(/^[0-9a-f]{32}$/);
      expect(traces[1]).not.toBe(launch);
    } finally {
      await bus.stop();
      await tracing.stop();
    }
  });
});
