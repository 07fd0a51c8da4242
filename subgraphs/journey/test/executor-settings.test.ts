// A journey's settings and lifecycle as the executor honours them, on Postgres and PGlite: entry
// rules, versions that keep their runs, pause and resume with due timers, the sending window
// across a change to summer time, the frequency cap, and steps executed once when events are
// delivered again and when two executors race for the same runs.
import { newId } from '@mauntic/kernel';
import { sql } from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollContact, enrollSegment } from '../src/app/enrollment.ts';
import { applyRunEvent } from '../src/app/executor/run-events.ts';
import { Stepper } from '../src/app/executor/stepper.ts';
import { segmentEntered } from './fixtures/executor-events.ts';
import {
  addContact,
  DAY,
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

describe.each(['postgres', 'pglite'] as Kind[])('journey settings on %s', (kind) => {
  let db: Awaited<ReturnType<typeof openExecutorDatabase>>;
  beforeAll(async () => {
    db = await openExecutorDatabase(kind);
  });
  afterAll(async () => {
    await db?.close();
  });

  const waiting = (rule: Record<string, unknown>) => ({
    entry: [{ type: 'api' }],
    start: 'wait',
    steps: { wait: { type: 'delay', wait: { duration: '1 day' }, next: 'end' }, end: { type: 'exit' } },
    settings: { entryRule: rule },
  });

  it('entry rules: once ever, once per period, every time, and one active run at a time', async () => {
    const clock = testClock();
    const ctx = newOrg();
    const deps = { handle: db.handle, logger, now: clock.now };
    const contactId = await addContact(db.handle, ctx.organizationId);
    const journeys = {
      once: await publish(db.handle, ctx.organizationId, waiting({ kind: 'once' })),
      oncePer: await publish(db.handle, ctx.organizationId, waiting({ kind: 'oncePer', period: '2 days' })),
      everyTime: await publish(db.handle, ctx.organizationId, waiting({ kind: 'everyTime' })),
      oneActive: await publish(db.handle, ctx.organizationId, waiting({ kind: 'oneActive' })),
    };
    const { drain } = testExecutor(db.handle, clock.now);
    const enrollAll = async () => {
      for (const j of Object.values(journeys)) await enrollContact(deps, ctx, { journeyId: j.journeyId, contactId });
      await drain();
    };
    const counts = async () =>
      Object.fromEntries(
        await Promise.all(
          Object.entries(journeys).map(async ([k, j]) => [k, (await runsOf(db.handle, j.journeyId)).length]),
        ),
      );
    await enrollAll();
    await enrollAll();
    // Twice at once: only everyTime lets the second in (oneActive: the first still waits).
    expect(await counts()).toEqual({ once: 1, oncePer: 1, everyTime: 2, oneActive: 1 });
    clock.advance(DAY + HOUR);
    await drain();
    await enrollAll();
    // A day later every first run has ended: oneActive takes the contact again, oncePer not yet.
    expect(await counts()).toEqual({ once: 1, oncePer: 1, everyTime: 3, oneActive: 2 });
    clock.advance(DAY);
    await enrollAll();
    expect(await counts()).toEqual({ once: 1, oncePer: 2, everyTime: 4, oneActive: 2 });
  });

  it('runs stay on the version they entered while new runs enter the newest', async () => {
    const clock = testClock();
    const ctx = newOrg();
    const deps = { handle: db.handle, logger, now: clock.now };
    const contactId = await addContact(db.handle, ctx.organizationId);
    const v1 = await publish(db.handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'wait',
      steps: {
        wait: { type: 'delay', wait: { duration: '1 hour' }, next: 'first' },
        first: { type: 'goal', name: 'v1' },
      },
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const { drain } = testExecutor(db.handle, clock.now);
    await enrollContact(deps, ctx, { journeyId: v1.journeyId, contactId });
    await drain();
    const v2 = await publish(
      db.handle,
      ctx.organizationId,
      {
        entry: [{ type: 'api' }],
        start: 'wait',
        steps: {
          wait: { type: 'delay', wait: { duration: '1 hour' }, next: 'second' },
          second: { type: 'goal', name: 'v2' },
        },
        settings: { entryRule: { kind: 'everyTime' } },
      },
      v1.journeyId,
    );
    await enrollContact(deps, ctx, { journeyId: v1.journeyId, contactId });
    await drain();
    clock.advance(HOUR);
    await drain();
    const runs = await runsOf(db.handle, v1.journeyId);
    expect(runs.map((r) => [r.version_id, r.state, r.step_id])).toEqual([
      [v1.versionId, 'converted', 'first'],
      [v2.versionId, 'converted', 'second'],
    ]);
  });

  it('a paused journey holds its runs past their due time; resumed, the due ones run in due order', async () => {
    const clock = testClock();
    const ctx = newOrg();
    const deps = { handle: db.handle, logger, now: clock.now };
    const j = await publish(db.handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'wait',
      steps: { wait: { type: 'delay', wait: { duration: '1 hour' }, next: 'end' }, end: { type: 'exit' } },
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const { drain } = testExecutor(db.handle, clock.now);
    const contacts: string[] = [];
    for (let i = 0; i < 3; i++) {
      contacts.push(await addContact(db.handle, ctx.organizationId));
      await enrollContact(deps, ctx, { journeyId: j.journeyId, contactId: contacts[i]! });
      await drain();
      clock.advance(10 * 60_000);
    }
    const dues = (await runsOf(db.handle, j.journeyId)).map((r) => r.due_at);
    await setStatus(db.handle, j.journeyId, 'paused');
    clock.advance(2 * HOUR);
    expect(await drain()).toBe(0);
    const held = await runsOf(db.handle, j.journeyId);
    expect(held.map((r) => [r.state, r.due_at])).toEqual(dues.map((d) => ['waiting', d]));
    // Enrolling is refused while paused.
    expect((await enrollContact(deps, ctx, { journeyId: j.journeyId, contactId: contacts[0]! })).ok).toBe(false);
    await setStatus(db.handle, j.journeyId, 'active');
    // Claimed in order of their due time: the walk commits them, and their events, in that order.
    const stepper = new Stepper({ handle: db.handle, logger, owner: 'in-order', now: clock.now, batchSize: 1 });
    for (let i = 0; i < 3; i++) expect((await stepper.runBatch()).claimed).toBe(1);
    const order = (await outboxEvents(db.handle, ctx.organizationId, 'journey.run.exited')).map((e) => e.subject.id);
    expect(order).toEqual(contacts);
  });

  it('a send outside the sending window waits for it across the change to summer time; other steps go on', async () => {
    // Friday 27 March 2026, 17:30 in Paris (CET, UTC+1); summer time starts on Sunday the 29th.
    const clock = testClock('2026-03-27T16:30:00Z');
    const ctx = newOrg();
    const deps = { handle: db.handle, logger, now: clock.now };
    const contactId = await addContact(db.handle, ctx.organizationId, { timezone: 'Europe/Paris' });
    const j = await publish(db.handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'tag',
      steps: {
        tag: { type: 'updateContact', addTags: ['windowed'], next: 'mail' },
        mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'end' },
        end: { type: 'exit' },
      },
      settings: {
        entryRule: { kind: 'once' },
        sendingWindow: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00' },
      },
    });
    const { drain } = testExecutor(db.handle, clock.now);
    await enrollContact(deps, ctx, { journeyId: j.journeyId, contactId });
    await drain();
    const [run] = await runsOf(db.handle, j.journeyId);
    // Monday 30 March, 09:00 in Paris is 07:00 UTC now (CEST, UTC+2), not 08:00.
    expect(run).toMatchObject({ state: 'waiting', step_id: 'mail', due_at: new Date('2026-03-30T07:00:00Z') });
    expect((await stepsOf(db.handle, run!.id)).map((s) => s.step_id)).toEqual(['tag']);
    clock.set('2026-03-30T06:59:00Z');
    expect(await drain()).toBe(0);
    clock.set('2026-03-30T07:00:00Z');
    await drain();
    expect((await runsOf(db.handle, j.journeyId))[0]).toMatchObject({ state: 'exited' });
    expect(await outboxEvents(db.handle, ctx.organizationId, 'delivery.message.requested')).toHaveLength(1);
  });

  it('the frequency cap skips sends over it, with the reason', async () => {
    const clock = testClock();
    const ctx = newOrg();
    const deps = { handle: db.handle, logger, now: clock.now };
    const contactId = await addContact(db.handle, ctx.organizationId);
    const j = await publish(db.handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'one',
      steps: {
        one: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'wait' },
        wait: { type: 'delay', wait: { duration: '1 hour' }, next: 'two' },
        two: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'later' },
        later: { type: 'delay', wait: { duration: '1 day' }, next: 'three' },
        three: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'end' },
        end: { type: 'exit' },
      },
      settings: { entryRule: { kind: 'once' }, frequencyCap: { max: 1, per: '1 day' } },
    });
    const { drain } = testExecutor(db.handle, clock.now);
    await enrollContact(deps, ctx, { journeyId: j.journeyId, contactId });
    await drain();
    clock.advance(HOUR);
    await drain();
    clock.advance(DAY);
    await drain();
    const steps = await stepsOf(db.handle, (await runsOf(db.handle, j.journeyId))[0]!.id);
    expect(
      steps.filter((s) => s.step_id !== 'wait' && s.step_id !== 'later').map((s) => [s.step_id, s.status]),
    ).toEqual([
      ['one', 'completed'],
      ['two', 'skipped'],
      ['three', 'completed'],
      ['end', 'completed'],
    ]);
    expect(steps.find((s) => s.step_id === 'two')!.outcome.reason).toBe('frequency_cap');
    expect(await outboxEvents(db.handle, ctx.organizationId, 'delivery.message.requested')).toHaveLength(2);
  });

  it('two executors racing for the same runs with leases that run out execute each step once', async () => {
    const clock = testClock();
    const ctx = newOrg();
    const deps = { handle: db.handle, logger, now: clock.now };
    const segmentId = newId();
    const j = await publish(db.handle, ctx.organizationId, {
      entry: [{ type: 'api' }, { type: 'segmentEntered', segmentId }],
      start: 'mail',
      steps: {
        mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'tag' },
        tag: { type: 'updateContact', addTags: ['x'], next: 'end' },
        end: { type: 'exit' },
      },
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const contacts: string[] = [];
    for (let i = 0; i < 40; i++)
      contacts.push(await addContact(db.handle, ctx.organizationId, { segments: [segmentId] }));
    // A redelivered trigger enters nobody twice, even with the every-time rule.
    const event = segmentEntered(ctx.organizationId, contacts[0]!, segmentId);
    expect(await applyRunEvent(deps, event)).toBe(true);
    expect(await applyRunEvent(deps, event)).toBe(false);
    expect((await enrollSegment(deps, ctx, { journeyId: j.journeyId, segmentId })).ok).toBe(true);
    // Leases of a millisecond: each executor's claims run out under the other's feet.
    const racers = ['a', 'b'].map(
      (owner) => new Stepper({ handle: db.handle, logger, owner, now: clock.now, batchSize: 7, leaseMs: 1 }),
    );
    for (;;) {
      const stats = await Promise.all(racers.map((s) => s.runBatch()));
      if (stats.every((s) => s.claimed === 0)) break;
    }
    const runs = await runsOf(db.handle, j.journeyId);
    expect(runs).toHaveLength(41);
    expect(runs.every((r) => r.state === 'exited')).toBe(true);
    const [logged] = await db.handle.rows<{ n: number }>(
      sql`select count(*)::int as n from journey.step_log where journey_id = ${j.journeyId}`,
    );
    expect(logged!.n).toBe(41 * 3);
    const sends = await outboxEvents(db.handle, ctx.organizationId, 'delivery.message.requested');
    expect(new Set(sends.map((e) => e.data.idempotencyKey)).size).toBe(41);
    expect(sends).toHaveLength(41);
    expect(await outboxEvents(db.handle, ctx.organizationId, 'journey.step.completed')).toHaveLength(41 * 3);
  });
});
