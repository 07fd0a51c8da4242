// Due delays woken set-based (Stepper.wakeDelays), on Postgres and PGlite: they record what the
// walk records (step log, events field for field, the run's next step and visit), loops through
// a delay back to the start count their visits, two executors racing over them wake each once, and
// what only the walk can handle (a deleted contact, a version that does not parse) stays its.
import { catalogue, type EventEnvelope, eventEnvelopeSchema, newId } from '@mauntic/kernel';
import { sql } from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollSegment } from '../src/app/enrollment.ts';
import { Stepper } from '../src/app/executor/stepper.ts';
import { contacts } from '../src/db/schema.ts';
import {
  addContact,
  HOUR,
  type Kind,
  logger,
  newOrg,
  openExecutorDatabase,
  outboxEvents,
  publish,
  runsOf,
  setStatus,
  stepsOf,
  testClock,
  testExecutor,
} from './fixtures/executor-harness.ts';

const TEMPLATE = '0190a000-0000-7000-8000-000000000001';

const delayThenMail = {
  entry: [{ type: 'api' }],
  start: 'wait',
  steps: {
    wait: { type: 'delay', wait: { duration: '1 hour' }, next: 'mail' },
    mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'end' },
    end: { type: 'exit' },
  },
  settings: { entryRule: { kind: 'everyTime' } },
};

describe.each(['postgres', 'pglite'] as Kind[])('due delays woken set-based on %s', (kind) => {
  let db: Awaited<ReturnType<typeof openExecutorDatabase>>;
  beforeAll(async () => {
    db = await openExecutorDatabase(kind);
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A journey published and `n` contacts of a segment entered and parked at its first delay. */
  async function parked(definition: unknown, n: number, clock: ReturnType<typeof testClock>) {
    const ctx = newOrg();
    const segmentId = newId();
    const journey = await publish(db.handle, ctx.organizationId, definition);
    const contactIds: string[] = [];
    for (let i = 0; i < n; i++)
      contactIds.push(await addContact(db.handle, ctx.organizationId, { segments: [segmentId] }));
    await enrollSegment({ handle: db.handle, logger, now: clock.now }, ctx, {
      journeyId: journey.journeyId,
      segmentId,
    });
    await testExecutor(db.handle, clock.now).drain();
    return { ctx, journey, contactIds };
  }

  /** Each run's state, step log and events, in order, with its ids replaced: two runs compare side by side. */
  async function history(organizationId: string, journeyId: string) {
    const events = (
      await db.handle.rows<{ envelope: unknown }>(sql`
        select envelope from journey.outbox where organization_id = ${organizationId} order by seq`)
    ).map((r) => (typeof r.envelope === 'string' ? JSON.parse(r.envelope) : r.envelope) as EventEnvelope);
    const runs = await runsOf(db.handle, journeyId);
    const histories = [];
    for (const { id, state, step_id, visit } of runs) {
      const ids = new Map<string, string>();
      const anonymous = (value: unknown) =>
        JSON.stringify(value).replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (uuid) => {
          if (!ids.has(uuid)) ids.set(uuid, `id${ids.size}`);
          return ids.get(uuid)!;
        });
      histories.push({
        run: anonymous({ id, state, step_id, visit }),
        steps: anonymous(await stepsOf(db.handle, id)),
        // Field for field, in order (the envelope's text), each event's own id aside.
        events: events.filter((e) => e.correlationId === id).map(({ id: _, ...event }) => anonymous(event)),
      });
    }
    return histories;
  }

  it('record the step, its event and the run moved on exactly as the walk does', async () => {
    const clock = testClock();
    const walked = await parked(delayThenMail, 3, clock);
    const woken = await parked(delayThenMail, 3, clock);
    clock.advance(HOUR);

    // The walk, alone: the set-based journey is paused meanwhile.
    await setStatus(db.handle, woken.journey.journeyId, 'paused');
    const walker = new Stepper({ handle: db.handle, logger, owner: `walker-${newId()}`, now: clock.now });
    while ((await walker.runBatch()).claimed);
    await setStatus(db.handle, woken.journey.journeyId, 'active');

    // Set-based: each run is left ready at its next step, after its delay's step log row.
    const waker = new Stepper({ handle: db.handle, logger, owner: `waker-${newId()}`, now: clock.now });
    expect(await waker.wakeDelays()).toEqual({ claimed: 3, transitions: 3, lost: 0 });
    expect(
      (await runsOf(db.handle, woken.journey.journeyId)).map((r) => [r.state, r.step_id, r.visit, r.wait]),
    ).toEqual(Array(3).fill(['ready', 'mail', 1, null]));
    const [delayEvent] = await outboxEvents(db.handle, woken.ctx.organizationId, 'journey.step.completed');
    expect(eventEnvelopeSchema.parse(delayEvent)).toEqual(delayEvent);
    expect(catalogue.journey.stepCompleted.data.parse(delayEvent!.data)).toEqual({
      ...delayEvent!.data,
      stepType: 'delay',
      outcome: { waitedUntil: '2026-03-02T11:00:00.000Z' },
    });
    expect(await waker.wakeDelays()).toEqual({ claimed: 0, transitions: 0, lost: 0 });
    while ((await waker.runBatch()).claimed);

    const expected = await history(walked.ctx.organizationId, walked.journey.journeyId);
    expect(expected.map((h) => h.run)).toEqual(
      Array(3).fill('{"id":"id0","state":"exited","step_id":"end","visit":1}'),
    );
    expect(expected[0]!.steps).toMatch(/"step_id":"wait".*"step_id":"mail".*"step_id":"end"/);
    expect(expected[0]!.events).toHaveLength(5);
    expect(await history(woken.ctx.organizationId, woken.journey.journeyId)).toEqual(expected);
  });

  it('a delay leading back to the start counts the visits of both', async () => {
    const clock = testClock('2026-04-01T10:00:00Z');
    const { journey } = await parked(
      {
        entry: [{ type: 'api' }],
        start: 'tag',
        steps: {
          tag: { type: 'updateContact', points: 1, next: 'wait' },
          wait: { type: 'delay', wait: { duration: '1 hour' }, next: 'tag' },
        },
        settings: { entryRule: { kind: 'everyTime' } },
      },
      1,
      clock,
    );
    const { drain } = testExecutor(db.handle, clock.now);
    for (let i = 0; i < 2; i++) {
      clock.advance(HOUR);
      expect(await drain()).toBe(2);
    }
    const [run] = await runsOf(db.handle, journey.journeyId);
    expect(run).toMatchObject({ state: 'waiting', step_id: 'wait', visit: 3 });
    expect((await stepsOf(db.handle, run!.id)).map((s) => `${s.step_id}#${s.visit}`)).toEqual([
      'tag#1',
      'wait#1',
      'tag#2',
      'wait#2',
      'tag#3',
    ]);
    // It would loop on; archived, the later tests' clocks leave it be.
    await setStatus(db.handle, journey.journeyId, 'archived');
  });

  it('two executors racing over many due delays wake each once', async () => {
    const clock = testClock('2026-05-01T10:00:00Z');
    const { ctx, journey } = await parked(delayThenMail, 60, clock);
    clock.advance(HOUR);
    const racers = ['a', 'b'].map(
      (owner) => new Stepper({ handle: db.handle, logger, owner, now: clock.now, batchSize: 7, wakeSize: 9 }),
    );
    let woken = 0;
    for (;;) {
      const stats = await Promise.all(racers.map((s) => s.wakeDelays()));
      woken += stats[0]!.transitions + stats[1]!.transitions;
      if (stats.every((s) => s.claimed === 0)) break;
    }
    expect(woken).toBe(60);
    expect(new Set((await runsOf(db.handle, journey.journeyId)).map((r) => `${r.state}:${r.step_id}`))).toEqual(
      new Set(['ready:mail']),
    );
    while ((await Promise.all(racers.map((s) => s.runBatch()))).some((s) => s.claimed));
    const runs = await runsOf(db.handle, journey.journeyId);
    expect(runs.filter((r) => r.state === 'exited')).toHaveLength(60);
    const [logged] = await db.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from journey.step_log where journey_id = ${journey.journeyId}`,
    );
    expect(logged!.n).toBe(60 * 3);
    expect(await outboxEvents(db.handle, ctx.organizationId, 'journey.step.completed')).toHaveLength(60 * 3);
    expect(await outboxEvents(db.handle, ctx.organizationId, 'delivery.message.requested')).toHaveLength(60);
  });

  it('a deleted contact and a version that does not parse are left to the walk', async () => {
    const clock = testClock('2026-06-01T10:00:00Z');
    const gone = await parked(delayThenMail, 1, clock);
    await db.handle.db.update(contacts).set({ deleted: true }).where(sql`${contacts.id} = ${gone.contactIds[0]!}`);
    // Versions cannot change once written: this one was written broken, with a run at its delay.
    const broken = { organizationId: gone.ctx.organizationId, journeyId: newId(), versionId: newId(), runId: newId() };
    await db.handle.script(`
      insert into journey.journeys (id, organization_id, name, definition, status, version)
        values ('${broken.journeyId}', '${broken.organizationId}', 'broken', '{}', 'active', 1);
      insert into journey.journey_versions (id, organization_id, journey_id, version, definition)
        values ('${broken.versionId}', '${broken.organizationId}', '${broken.journeyId}', 1, '{"steps": 1}');
      insert into journey.runs (id, organization_id, journey_id, version_id, contact_id, state, step_id, due_at, wait)
        values ('${broken.runId}', '${broken.organizationId}', '${broken.journeyId}', '${broken.versionId}',
          '${newId()}', 'waiting', 'wait', '${clock.now().toISOString()}', '{"kind": "delay"}');`);
    clock.advance(HOUR);
    const stepper = new Stepper({ handle: db.handle, logger, owner: `left-${newId()}`, now: clock.now });
    expect(await stepper.wakeDelays()).toEqual({ claimed: 0, transitions: 0, lost: 0 });
    while ((await stepper.runBatch()).claimed);
    const [ended] = await runsOf(db.handle, gone.journey.journeyId);
    expect(ended).toMatchObject({ state: 'exited', step_id: 'wait' });
    expect(await stepsOf(db.handle, ended!.id)).toEqual([]);
    const [failed] = await runsOf(db.handle, broken.journeyId);
    expect(failed).toMatchObject({ state: 'failed', step_id: 'wait' });
    expect(await stepsOf(db.handle, failed!.id)).toEqual([]);
  });
});
