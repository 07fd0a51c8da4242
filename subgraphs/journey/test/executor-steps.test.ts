// Each step type as the executor runs it, on Postgres and PGlite: delays, waits for form, page
// and custom events, conditions, splits with a holdout, contact, segment, event and notify
// requests, enter journey, jump, goals (reached, or converted by their event anywhere) and the
// exit criteria.
import { catalogue, createEvent, type EventDefinition, newId } from '@mauntic/kernel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRunEvent } from '../src/app/executor/run-events.ts';
import { activities } from '../src/db/schema.ts';
import {
  customEvent,
  dncChanged,
  formSubmitted,
  pageVisited,
  segmentEntered,
  segmentExited,
} from './fixtures/executor-events.ts';
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
  stepsOf,
  testClock,
  testExecutor,
} from './fixtures/executor-harness.ts';

const TEMPLATE = '0190a000-0000-7000-8000-000000000001';
const exit = { type: 'exit' };

describe.each(['postgres', 'pglite'] as Kind[])('journey steps on %s', (kind) => {
  let db: Awaited<ReturnType<typeof openExecutorDatabase>>;
  beforeAll(async () => {
    db = await openExecutorDatabase(kind);
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A journey entered by segment, a contact in that segment entered, and the executor's clock. */
  async function entered(
    steps: Record<string, unknown>,
    start: string,
    seed: Parameters<typeof addContact>[2] = {},
    settings = {},
    /** Runs once the contact exists, before it enters. */
    prepare?: (organizationId: string, contactId: string) => Promise<void>,
  ) {
    const clock = testClock();
    const { organizationId } = newOrg();
    const segmentId = newId();
    const journey = await publish(db.handle, organizationId, {
      entry: [{ type: 'segmentEntered', segmentId }],
      start,
      steps,
      settings: { entryRule: { kind: 'everyTime' }, ...settings },
    });
    const contactId = await addContact(db.handle, organizationId, {
      ...seed,
      segments: [...(seed.segments ?? []), segmentId],
    });
    await prepare?.(organizationId, contactId);
    const deps = { handle: db.handle, logger, now: clock.now };
    expect(await applyRunEvent(deps, segmentEntered(organizationId, contactId, segmentId))).toBe(true);
    const { drain } = testExecutor(db.handle, clock.now);
    await drain();
    const run = async () => (await runsOf(db.handle, journey.journeyId, contactId))[0]!;
    return { clock, organizationId, segmentId, contactId, journey, deps, drain, run };
  }

  it('delays for a duration, until a time of day on the contact clock, and until a date field minus days', async () => {
    const t = await entered(
      {
        pause: { type: 'delay', wait: { duration: '2 hours' }, next: 'morning' },
        morning: { type: 'delay', wait: { until: '09:00', days: ['tue'] }, next: 'renewal' },
        renewal: { type: 'delay', wait: { field: 'fields.renewal', offsetDays: -7 }, next: 'end' },
        end: exit,
      },
      'pause',
      { timezone: 'America/New_York', fields: { renewal: '2026-03-20' } },
    );
    // Monday 2026-03-02 10:00 UTC is 05:00 in New York.
    expect(await t.run()).toMatchObject({
      state: 'waiting',
      step_id: 'pause',
      due_at: new Date('2026-03-02T12:00:00Z'),
    });
    t.clock.advance(HOUR);
    await t.drain();
    expect((await t.run()).step_id).toBe('pause');
    t.clock.advance(HOUR);
    await t.drain();
    // The next Tuesday 09:00 in New York (EST, UTC-5).
    expect(await t.run()).toMatchObject({ step_id: 'morning', due_at: new Date('2026-03-03T14:00:00Z') });
    t.clock.set('2026-03-03T14:00:00Z');
    await t.drain();
    // 2026-03-13 (renewal minus 7 days) at midnight in New York: daylight time since 2026-03-08, UTC-4.
    expect(await t.run()).toMatchObject({ step_id: 'renewal', due_at: new Date('2026-03-13T04:00:00Z') });
    t.clock.set('2026-03-13T04:00:00Z');
    await t.drain();
    const run = await t.run();
    expect(run.state).toBe('exited');
    expect((await stepsOf(db.handle, run.id)).map((s) => s.step_id)).toEqual(['pause', 'morning', 'renewal', 'end']);
  });

  it('waits for a form, a page and a custom event with property conditions, each resuming only its own run', async () => {
    const formId = newId();
    const steps = (event: Record<string, unknown>) => ({
      wait: { type: 'waitFor', event, timeout: '3 days', onEvent: 'yes', onTimeout: 'no' },
      yes: { type: 'goal', name: 'answered' },
      no: exit,
    });
    const form = await entered(
      steps({ kind: 'form', id: formId, where: { field: 'plan', op: 'eq', value: 'pro' } }),
      'wait',
    );
    const page = await entered(
      steps({ kind: 'page', where: { field: 'url', op: 'contains', value: '/pricing' } }),
      'wait',
    );
    const custom = await entered(
      steps({ kind: 'custom', name: 'trial.started', where: { field: 'seats', op: 'gte', value: 5 } }),
      'wait',
    );

    // Events that do not match: another form, a form without the value, another page, another name or too few seats.
    expect(
      await applyRunEvent(form.deps, formSubmitted(form.organizationId, form.contactId, newId(), { plan: 'pro' })),
    ).toBe(false);
    expect(
      await applyRunEvent(form.deps, formSubmitted(form.organizationId, form.contactId, formId, { plan: 'free' })),
    ).toBe(false);
    expect(
      await applyRunEvent(page.deps, pageVisited(page.organizationId, page.contactId, 'https://x.test/blog')),
    ).toBe(false);
    expect(
      await applyRunEvent(
        custom.deps,
        customEvent(custom.organizationId, custom.contactId, 'trial.ended', { seats: 9 }),
      ),
    ).toBe(false);
    expect(
      await applyRunEvent(
        custom.deps,
        customEvent(custom.organizationId, custom.contactId, 'trial.started', { seats: 2 }),
      ),
    ).toBe(false);
    // The custom event of another contact resumes nobody here.
    expect(
      await applyRunEvent(
        custom.deps,
        customEvent(custom.organizationId, form.contactId, 'trial.started', { seats: 9 }),
      ),
    ).toBe(false);

    expect(
      await applyRunEvent(form.deps, formSubmitted(form.organizationId, form.contactId, formId, { plan: 'Pro' })),
    ).toBe(true);
    expect(
      await applyRunEvent(page.deps, pageVisited(page.organizationId, page.contactId, 'https://x.test/pricing?a=1')),
    ).toBe(true);
    expect(
      await applyRunEvent(
        custom.deps,
        customEvent(custom.organizationId, custom.contactId, 'trial.started', { seats: 5 }),
      ),
    ).toBe(true);
    await form.drain();
    for (const t of [form, page, custom]) expect(await t.run()).toMatchObject({ state: 'converted', step_id: 'yes' });
  });

  it('conditions read fields, tags, points, segments, DNC and behaviour as the contact is now', async () => {
    const other = newId();
    const filter = {
      and: [
        { field: 'fields.plan', op: 'in', value: ['pro', 'enterprise'] },
        { field: 'points', op: 'between', value: [10, 20] },
        { tags: { op: 'includesAll', value: ['VIP'] } },
        { segment: { id: other } },
        { not: { dnc: { channel: 'email' } } },
        { field: 'createdAt', op: 'gte', value: '-7 days' },
      ],
    };
    const steps = {
      check: { type: 'condition', filter, yes: 'yes', no: 'no' },
      yes: { type: 'goal', name: 'matched' },
      no: exit,
    };
    const recent = new Date('2026-02-27T10:00:00Z');
    const match = await entered(steps, 'check', {
      fields: { plan: 'pro' },
      points: 15,
      tags: ['vip'],
      segments: [other],
      createdAt: recent,
    });
    expect(await match.run()).toMatchObject({ state: 'converted' });
    const dnc = await entered(steps, 'check', {
      fields: { plan: 'pro' },
      points: 15,
      tags: ['vip'],
      segments: [other],
      createdAt: recent,
      dnc: { email: 'unsubscribed' },
    });
    expect(await dnc.run()).toMatchObject({ state: 'exited', step_id: 'no' });
    const old = await entered(steps, 'check', {
      fields: { plan: 'pro' },
      points: 15,
      tags: ['vip'],
      segments: [other],
      createdAt: new Date('2026-01-01'),
    });
    expect(await old.run()).toMatchObject({ state: 'exited' });

    // Behaviour: from the journey's copy of the contact's activity, within the window.
    const opened = {
      check: {
        type: 'condition',
        filter: { behavior: { type: 'email.opened', within: '7 days' } },
        yes: 'yes',
        no: 'no',
      },
      yes: { type: 'goal', name: 'g' },
      no: exit,
    };
    const openedAt = (at: Date) => async (organizationId: string, contactId: string) => {
      await db.handle.db
        .insert(activities)
        .values({ id: newId(), organizationId, contactId, type: 'email.opened', subject: newId(), occurredAt: at });
    };
    const reader = await entered(opened, 'check', {}, {}, openedAt(new Date('2026-02-27T09:00:00Z')));
    expect(await reader.run()).toMatchObject({ state: 'converted' });
    const lapsed = await entered(opened, 'check', {}, {}, openedAt(new Date('2026-01-01T09:00:00Z')));
    expect(await lapsed.run()).toMatchObject({ state: 'exited', step_id: 'no' });
    const [step] = await stepsOf(db.handle, (await lapsed.run()).id);
    expect(step!.outcome).toEqual({ matched: false });
  });

  it('an experiment sends each contact down its variant; a holdout ends the run as exited and counted', async () => {
    const t = await entered(
      {
        ab: {
          type: 'experiment',
          branches: [
            { name: 'control', weight: 0, next: 'end' },
            { name: 'holdout', weight: 100, next: null },
          ],
        },
        end: exit,
      },
      'ab',
    );
    const run = await t.run();
    expect(run).toMatchObject({ state: 'exited', step_id: 'ab' });
    expect((await stepsOf(db.handle, run.id))[0]!.outcome).toEqual({ branch: 1, name: 'holdout', holdout: true });
    expect((await outboxEvents(db.handle, t.organizationId, 'journey.run.exited'))[0]!.data.reason).toBe('holdout');
  });

  it('asks CRM to update the contact, change a static segment and record an event, notifies a member, calls a webhook', async () => {
    const staticSegment = newId();
    const t = await entered(
      {
        update: {
          type: 'updateContact',
          set: { 'fields.stage': 'trial' },
          removeTags: ['lead'],
          dnc: { channel: 'sms', value: true },
          next: 'seg',
        },
        seg: { type: 'segment', action: 'add', segmentId: staticSegment, next: 'check' },
        // The walk sees its own requests: the contact is in the segment now.
        check: { type: 'condition', filter: { segment: { id: staticSegment } }, yes: 'emit', no: 'end' },
        emit: { type: 'emitEvent', name: 'journey.reached', properties: { level: 2 }, next: 'tell' },
        tell: { type: 'notify', via: 'email', target: 'owner@example.com', templateId: TEMPLATE, next: 'hook' },
        hook: { type: 'send', channel: 'webhook', templateId: TEMPLATE, next: 'end' },
        end: exit,
      },
      'update',
      { tags: ['lead'] },
    );
    const run = await t.run();
    const key = (step: string) => `journey:${run.id}:${step}:1`;
    const [update] = await outboxEvents(db.handle, t.organizationId, 'journey.contact-update.requested');
    expect(update!.data).toEqual({
      runId: run.id,
      journeyId: t.journey.journeyId,
      stepId: 'update',
      idempotencyKey: key('update'),
      set: { 'fields.stage': 'trial' },
      removeTags: ['lead'],
      dnc: { channel: 'sms', value: true },
    });
    expect(update!.subject).toEqual({ type: 'contact', id: t.contactId });
    expect(
      (await outboxEvents(db.handle, t.organizationId, 'journey.segment-change.requested'))[0]!.data,
    ).toMatchObject({
      segmentId: staticSegment,
      action: 'add',
      idempotencyKey: key('seg'),
    });
    expect((await outboxEvents(db.handle, t.organizationId, 'journey.contact-event.requested'))[0]!.data).toMatchObject(
      {
        name: 'journey.reached',
        properties: { level: 2 },
      },
    );
    expect((await outboxEvents(db.handle, t.organizationId, 'journey.notification.requested'))[0]!.data).toMatchObject({
      via: 'email',
      target: 'owner@example.com',
      templateId: TEMPLATE,
    });
    // A webhook is a send like any other: delivery posts it to its template's URL.
    const [hook] = await outboxEvents(db.handle, t.organizationId, 'delivery.message.requested');
    expect(hook!.data).toMatchObject({ channel: 'webhook', contactId: t.contactId, idempotencyKey: key('hook') });
    expect(run).toMatchObject({ state: 'exited', step_id: 'end' });
  });

  it('a send step records what delivery did with it: the message queued, then sent or failed with the reason', async () => {
    const t = await entered(
      {
        mail: { type: 'send', channel: 'email', templateId: TEMPLATE, next: 'again' },
        again: { type: 'send', channel: 'sms', templateId: TEMPLATE, next: 'end' },
        end: exit,
      },
      'mail',
    );
    const run = await t.run();
    const message = (stepId: string) => ({
      messageId: newId(),
      contactId: t.contactId,
      channel: 'email' as const,
      address: 'someone@example.com',
      templateId: TEMPLATE,
      source: { kind: 'journey' as const, id: t.journey.journeyId, stepId },
    });
    const outcome = async (stepId: string) =>
      (await stepsOf(db.handle, run.id)).find((s) => s.step_id === stepId)!.outcome;
    const [mail, sms] = [message('mail'), { ...message('again'), channel: 'sms' as const }];
    const event = <T>(def: EventDefinition<string, T>, data: T) =>
      createEvent(def, { organizationId: t.organizationId, subjectId: t.contactId, correlationId: newId(), data });
    for (const [m, step] of [
      [mail, 'mail'],
      [sms, 'again'],
    ] as const)
      await applyRunEvent(
        t.deps,
        event(catalogue.delivery.messageQueued, { ...m, idempotencyKey: `journey:${run.id}:${step}:1` }),
      );
    expect(await outcome('mail')).toMatchObject({ messageId: mail.messageId, delivery: 'queued' });
    await applyRunEvent(t.deps, event(catalogue.delivery.messageSent, mail));
    await applyRunEvent(
      t.deps,
      event(catalogue.delivery.messageFailed, { ...sms, reason: 'suppressed', detail: null }),
    );
    expect(await outcome('mail')).toEqual({
      channel: 'email',
      messageRequest: `journey:${run.id}:mail:1`,
      messageId: mail.messageId,
      delivery: 'sent',
    });
    expect(await outcome('again')).toMatchObject({
      messageId: sms.messageId,
      delivery: 'failed',
      reason: 'suppressed',
    });
    // A request delivery could not make a message of fails without being queued.
    const third = await entered(
      { mail: { type: 'send', channel: 'sms', templateId: TEMPLATE, next: 'end' }, end: exit },
      'mail',
    );
    const unsent = {
      ...message('mail'),
      channel: 'sms' as const,
      source: { kind: 'journey' as const, id: third.journey.journeyId, stepId: 'mail' },
    };
    await applyRunEvent(
      third.deps,
      createEvent(catalogue.delivery.messageFailed, {
        organizationId: third.organizationId,
        subjectId: third.contactId,
        correlationId: newId(),
        data: { ...unsent, contactId: third.contactId, reason: 'no_address', detail: null },
      }),
    );
    const [sent] = await stepsOf(db.handle, (await third.run()).id);
    expect(sent!.outcome).toMatchObject({ messageId: unsent.messageId, delivery: 'failed', reason: 'no_address' });
  });

  it('enters another journey by its entry rule, and a jump back through a delay visits steps again', async () => {
    const clock = testClock();
    const { organizationId } = newOrg();
    const segmentId = newId();
    const other = await publish(db.handle, organizationId, {
      entry: [{ type: 'api' }],
      start: 'end',
      steps: { end: exit },
      settings: { entryRule: { kind: 'once' } },
    });
    const { journeyId } = await publish(db.handle, organizationId, {
      entry: [{ type: 'segmentEntered', segmentId }],
      start: 'into',
      steps: {
        into: { type: 'enterJourney', journeyId: other.journeyId, next: 'wait' },
        wait: { type: 'delay', wait: { duration: '1 day' }, next: 'again' },
        again: { type: 'jump', to: 'into' },
      },
    });
    const contactId = await addContact(db.handle, organizationId, { segments: [segmentId] });
    await applyRunEvent(
      { handle: db.handle, logger, now: clock.now },
      segmentEntered(organizationId, contactId, segmentId),
    );
    const { drain } = testExecutor(db.handle, clock.now);
    await drain();
    for (let day = 0; day < 2; day++) {
      clock.advance(24 * HOUR);
      await drain();
    }
    const [run] = await runsOf(db.handle, journeyId, contactId);
    expect(run).toMatchObject({ state: 'waiting', step_id: 'wait', visit: 3 });
    expect((await stepsOf(db.handle, run!.id)).map((s) => `${s.step_id}#${s.visit}`)).toEqual([
      'into#1',
      'wait#1',
      'again#1',
      'into#2',
      'wait#2',
      'again#2',
      'into#3',
    ]);
    // Entered three times, into a journey that takes a contact once.
    expect(await runsOf(db.handle, other.journeyId, contactId)).toMatchObject([{ state: 'exited' }]);
  });

  it("a goal's event converts the run wherever it waits; leaving the segment or becoming DNC ends it", async () => {
    const leaves = newId();
    const steps = {
      wait: { type: 'delay', wait: { duration: '7 days' }, next: 'end' },
      bought: { type: 'goal', name: 'purchase', event: { event: 'custom', name: 'order.placed' } },
      end: exit,
    };
    const settings = { exit: { goals: ['bought'], leavesSegment: leaves, becomesDnc: ['email'] } };
    const buyer = await entered(steps, 'wait', { segments: [leaves] }, settings);
    const leaver = await entered(steps, 'wait', { segments: [leaves] }, settings);
    const unsubscriber = await entered(steps, 'wait', { segments: [leaves] }, settings);
    expect(await applyRunEvent(buyer.deps, customEvent(buyer.organizationId, buyer.contactId, 'order.placed'))).toBe(
      true,
    );
    expect(await applyRunEvent(leaver.deps, segmentExited(leaver.organizationId, leaver.contactId, leaves))).toBe(true);
    expect(
      await applyRunEvent(unsubscriber.deps, dncChanged(unsubscriber.organizationId, unsubscriber.contactId, 'sms')),
    ).toBe(false);
    expect(
      await applyRunEvent(unsubscriber.deps, dncChanged(unsubscriber.organizationId, unsubscriber.contactId, 'email')),
    ).toBe(true);
    await buyer.drain();
    const converted = await buyer.run();
    expect(converted).toMatchObject({ state: 'converted', step_id: 'bought' });
    expect((await stepsOf(db.handle, converted.id)).map((s) => s.step_id)).toEqual(['bought']);
    expect((await outboxEvents(db.handle, buyer.organizationId, 'journey.run.converted'))[0]!.data).toMatchObject({
      goal: 'purchase',
      stepId: 'bought',
    });
    expect(await leaver.run()).toMatchObject({ state: 'exited', step_id: 'wait' });
    expect((await outboxEvents(db.handle, leaver.organizationId, 'journey.run.exited'))[0]!.data.reason).toBe(
      'left_segment',
    );
    expect((await outboxEvents(db.handle, unsubscriber.organizationId, 'journey.run.exited'))[0]!.data.reason).toBe(
      'dnc',
    );
    // Nothing of the delay step ran for any of them.
    expect(await stepsOf(db.handle, (await leaver.run()).id)).toEqual([]);
  });
});
