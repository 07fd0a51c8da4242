// The executor on real databases (Postgres and PGlite): triggers enter runs, the stepper walks
// each step type once, waits park and resume on time or on their event, and the settings hold.
import { catalogue, createEvent, type EventEnvelope, newId } from '@mauntic/kernel';
import { sql } from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enterContacts } from '../src/app/executor/enter.ts';
import { applyRunEvent } from '../src/app/executor/run-events.ts';
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
  stepsOf,
  testClock,
  testExecutor,
} from './fixtures/executor-harness.ts';

const TEMPLATE = '0190a000-0000-7000-8000-000000000001';
const SECOND_TEMPLATE = '0190a000-0000-7000-8000-000000000002';

const segmentEntered = (organizationId: string, contactId: string, segmentId: string, at = new Date()) =>
  createEvent(catalogue.crm.segmentEntered, {
    organizationId,
    subjectId: contactId,
    correlationId: newId(),
    data: { segmentId },
    occurredAt: at,
  });

describe.each(['postgres', 'pglite'] as Kind[])('the journey executor on %s', (kind) => {
  let db: Awaited<ReturnType<typeof openExecutorDatabase>>;
  beforeAll(async () => {
    db = await openExecutorDatabase(kind);
  });
  afterAll(async () => {
    await db?.close();
  });

  const deps = (now: () => Date) => ({ handle: db.handle, logger, now });

  it('a contact joining the segment walks update -> condition -> split -> send -> exit, each step once', async () => {
    const clock = testClock();
    const { organizationId } = newOrg();
    const segmentId = newId();
    const { journeyId } = await publish(db.handle, organizationId, {
      entry: [{ type: 'segmentEntered', segmentId }],
      start: 'tag',
      steps: {
        tag: { type: 'updateContact', addTags: ['journeyed'], points: 5, next: 'vip' },
        vip: { type: 'condition', filter: { tags: { op: 'includesAny', value: ['journeyed'] } }, yes: 'ab', no: 'out' },
        ab: {
          type: 'split',
          branches: [
            { weight: 50, next: 'mail' },
            { weight: 50, next: 'mail' },
          ],
        },
        mail: { type: 'send', channel: 'email', templateId: TEMPLATE, context: { offer: 'spring' }, next: 'out' },
        out: { type: 'exit' },
      },
    });
    const contactId = await addContact(db.handle, organizationId, { segments: [segmentId] });
    const event = segmentEntered(organizationId, contactId, segmentId);
    expect(await applyRunEvent(deps(clock.now), event)).toBe(true);
    // The same event again (a redelivery) enters nobody.
    expect(await applyRunEvent(deps(clock.now), event)).toBe(false);
    const { drain } = testExecutor(db.handle, clock.now);
    expect(await drain()).toBe(5);
    const [run] = await runsOf(db.handle, journeyId, contactId);
    expect(run).toMatchObject({ state: 'exited', step_id: 'out' });
    const steps = await stepsOf(db.handle, run!.id);
    expect(steps.map((s) => [s.step_id, s.visit, s.status])).toEqual([
      ['tag', 1, 'completed'],
      ['vip', 1, 'completed'],
      ['ab', 1, 'completed'],
      ['mail', 1, 'completed'],
      ['out', 1, 'completed'],
    ]);
    expect(steps[1]!.outcome).toEqual({ matched: true });
    const [request] = await outboxEvents(db.handle, organizationId, 'delivery.message.requested');
    expect(request!.data).toMatchObject({
      channel: 'email',
      templateId: TEMPLATE,
      contactId,
      address: null,
      context: { offer: 'spring' },
      idempotencyKey: `journey:${run!.id}:mail:1`,
      source: { kind: 'journey', id: journeyId, stepId: 'mail' },
    });
    const [update] = await outboxEvents(db.handle, organizationId, 'journey.contact-update.requested');
    expect(update!.data).toMatchObject({
      addTags: ['journeyed'],
      points: 5,
      idempotencyKey: `journey:${run!.id}:tag:1`,
    });
    expect((await outboxEvents(db.handle, organizationId, 'journey.run.started')).map((e) => e.data)).toEqual([
      { runId: run!.id, journeyId, versionId: run!.version_id, version: 1, trigger: 'segmentEntered' },
    ]);
    expect(await outboxEvents(db.handle, organizationId, 'journey.step.completed')).toHaveLength(5);
    expect(await outboxEvents(db.handle, organizationId, 'journey.run.exited')).toHaveLength(1);
    // Walking again does nothing: every step happened once.
    expect(await drain()).toBe(0);
    expect(await outboxEvents(db.handle, organizationId, 'delivery.message.requested')).toHaveLength(1);
  });

  it('a version whose stored definition does not parse fails its own runs, and the rest of the batch goes on', async () => {
    const clock = testClock();
    const ctx = newOrg();
    const good = await publish(db.handle, ctx.organizationId, {
      entry: [{ type: 'api' }],
      start: 'end',
      steps: { end: { type: 'exit' } },
    });
    // Versions cannot change once written: this one was written broken.
    const broken = { journeyId: newId(), versionId: newId() };
    await db.handle.script(`
      insert into journey.journeys (id, organization_id, name, definition, status, version)
        values ('${broken.journeyId}', '${ctx.organizationId}', 'broken', '{}', 'active', 1);
      insert into journey.journey_versions (id, organization_id, journey_id, version, definition)
        values ('${broken.versionId}', '${ctx.organizationId}', '${broken.journeyId}', 1, '{"steps": 1}');`);
    const contactId = await addContact(db.handle, ctx.organizationId);
    for (const j of [good, broken])
      await enterContacts(db.handle.db, {
        target: {
          organizationId: ctx.organizationId,
          journeyId: j.journeyId,
          versionId: j.versionId,
          version: 1,
          start: 'end',
          entryRule: { kind: 'everyTime' },
        },
        contacts: sql`select ${contactId}::uuid as contact_id`,
        trigger: 'api',
        data: {},
        now: clock.now(),
        correlationId: 'test',
      });
    await testExecutor(db.handle, clock.now).drain();
    expect((await runsOf(db.handle, good.journeyId))[0]).toMatchObject({ state: 'exited' });
    expect((await runsOf(db.handle, broken.journeyId))[0]).toMatchObject({ state: 'failed' });
    const [failed] = await outboxEvents(db.handle, ctx.organizationId, 'journey.run.failed');
    expect(failed!.data.error).toMatch(/^the version's definition does not parse/);
  });

  it('a wait for the email to be opened resumes on the open, and times out on the other branch', async () => {
    const clock = testClock();
    const { organizationId } = newOrg();
    const segmentId = newId();
    const { journeyId } = await publish(db.handle, organizationId, {
      entry: [{ type: 'segmentEntered', segmentId }],
      start: 'mail',
      steps: {
        mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'wait' },
        wait: {
          type: 'waitFor',
          event: { kind: 'opened', step: 'mail' },
          timeout: '1 day',
          onEvent: 'opened',
          onTimeout: 'nudge',
        },
        opened: { type: 'goal', name: 'engaged' },
        nudge: { type: 'send', channel: 'email', templateId: SECOND_TEMPLATE, next: 'out' },
        out: { type: 'exit' },
      },
    });
    const opener = await addContact(db.handle, organizationId);
    const sleeper = await addContact(db.handle, organizationId);
    for (const c of [opener, sleeper])
      await applyRunEvent(deps(clock.now), segmentEntered(organizationId, c, segmentId));
    const { drain } = testExecutor(db.handle, clock.now);
    await drain();
    const [waiting] = await runsOf(db.handle, journeyId, opener);
    expect(waiting).toMatchObject({ state: 'waiting', step_id: 'wait' });
    expect(waiting!.due_at).toEqual(new Date(clock.now().getTime() + DAY));

    clock.advance(HOUR);
    const opened = (contactId: string, stepId: string, machine = false) =>
      createEvent(catalogue.delivery.messageOpened, {
        organizationId,
        subjectId: contactId,
        correlationId: newId(),
        data: {
          messageId: newId(),
          contactId,
          channel: 'email',
          address: 'x@example.com',
          templateId: TEMPLATE,
          source: { kind: 'journey', id: journeyId, stepId },
          machine,
        },
      });
    // A proxy's open, and an open of another step's email, do not count.
    expect(await applyRunEvent(deps(clock.now), opened(opener, 'mail', true))).toBe(false);
    expect(await applyRunEvent(deps(clock.now), opened(opener, 'nudge'))).toBe(false);
    expect(await applyRunEvent(deps(clock.now), opened(opener, 'mail'))).toBe(true);
    await drain();
    expect((await runsOf(db.handle, journeyId, opener))[0]).toMatchObject({ state: 'converted', step_id: 'opened' });
    expect((await runsOf(db.handle, journeyId, sleeper))[0]).toMatchObject({ state: 'waiting', step_id: 'wait' });

    clock.advance(DAY);
    await drain();
    const [timedOut] = await runsOf(db.handle, journeyId, sleeper);
    expect(timedOut).toMatchObject({ state: 'exited', step_id: 'out' });
    expect((await stepsOf(db.handle, timedOut!.id)).map((s) => [s.step_id, s.outcome.event ?? null])).toEqual([
      ['mail', null],
      ['wait', 'timeout'],
      ['nudge', null],
      ['out', null],
    ]);
    const keys = (await outboxEvents(db.handle, organizationId, 'delivery.message.requested')).map(
      (e) => e.data.idempotencyKey,
    );
    expect(keys.sort()).toEqual(
      [`journey:${waiting!.id}:mail:1`, `journey:${timedOut!.id}:mail:1`, `journey:${timedOut!.id}:nudge:1`].sort(),
    );
  });
});

export type { EventEnvelope };
