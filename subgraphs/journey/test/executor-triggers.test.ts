// Entry triggers on Postgres and PGlite: segment entered and exited, catalogued and custom events
// with property conditions, date fields (yearly, once, with an offset, in the contact's time
// zone) and schedules over a segment (from their start, on their zone's clock across DST, until
// COUNT runs out), each entering a contact once per occurrence.
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import { sql } from '@mauntic/platform';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyRunEvent } from '../src/app/executor/run-events.ts';
import { runScheduledTriggers } from '../src/app/executor/scheduled-triggers.ts';
import { customEvent, formSubmitted, segmentEntered, segmentExited } from './fixtures/executor-events.ts';
import {
  addContact,
  type Kind,
  logger,
  newOrg,
  openExecutorDatabase,
  publish,
  runsOf,
  testClock,
} from './fixtures/executor-harness.ts';

const ends = { start: 'end', steps: { end: { type: 'exit' } } };

describe.each(['postgres', 'pglite'] as Kind[])('entry triggers on %s', (kind) => {
  let db: Awaited<ReturnType<typeof openExecutorDatabase>>;
  beforeAll(async () => {
    db = await openExecutorDatabase(kind);
  });
  afterAll(async () => {
    await db?.close();
  });

  it('segment entered and exited enter the journeys that name that segment', async () => {
    const clock = testClock();
    const deps = { handle: db.handle, logger, now: clock.now };
    const { organizationId } = newOrg();
    const [inSegment, outSegment, elsewhere] = [newId(), newId(), newId()];
    const onEnter = await publish(db.handle, organizationId, {
      entry: [{ type: 'segmentEntered', segmentId: inSegment }],
      ...ends,
    });
    const onExit = await publish(db.handle, organizationId, {
      entry: [{ type: 'segmentExited', segmentId: outSegment }],
      ...ends,
    });
    const contactId = await addContact(db.handle, organizationId);
    expect(await applyRunEvent(deps, segmentEntered(organizationId, contactId, elsewhere))).toBe(false);
    expect(await applyRunEvent(deps, segmentExited(organizationId, contactId, inSegment))).toBe(false);
    expect(await applyRunEvent(deps, segmentEntered(organizationId, contactId, inSegment))).toBe(true);
    expect(await applyRunEvent(deps, segmentExited(organizationId, contactId, outSegment))).toBe(true);
    expect(await runsOf(db.handle, onEnter.journeyId)).toHaveLength(1);
    expect(await runsOf(db.handle, onExit.journeyId)).toHaveLength(1);
    // Another organization's event with the same segment id enters nobody here.
    expect(await applyRunEvent(deps, segmentEntered(newOrg().organizationId, contactId, inSegment))).toBe(false);
  });

  it('catalogued and custom events enter when their property conditions hold, with the event as run data', async () => {
    const clock = testClock();
    const deps = { handle: db.handle, logger, now: clock.now };
    const { organizationId } = newOrg();
    const formId = newId();
    const form = await publish(db.handle, organizationId, {
      entry: [
        { type: 'event', event: 'content.form.submitted', where: { field: 'fields.plan', op: 'eq', value: 'pro' } },
      ],
      ...ends,
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const points = await publish(db.handle, organizationId, {
      entry: [{ type: 'event', event: 'crm.points.changed', where: { field: 'points', op: 'gte', value: 100 } }],
      ...ends,
    });
    const custom = await publish(db.handle, organizationId, {
      entry: [
        { type: 'event', event: 'custom', name: 'cart.abandoned', where: { field: 'total', op: 'gt', value: 50 } },
      ],
      ...ends,
    });
    const contactId = await addContact(db.handle, organizationId);
    const pointsChanged = (total: number) =>
      createEvent(catalogue.crm.pointsChanged, {
        organizationId,
        subjectId: contactId,
        correlationId: newId(),
        data: { delta: 10, points: total },
      });
    expect(await applyRunEvent(deps, formSubmitted(organizationId, contactId, formId, { plan: 'free' }))).toBe(false);
    expect(await applyRunEvent(deps, formSubmitted(organizationId, contactId, formId, { plan: 'pro' }))).toBe(true);
    expect(await applyRunEvent(deps, pointsChanged(90))).toBe(false);
    expect(await applyRunEvent(deps, pointsChanged(100))).toBe(true);
    expect(await applyRunEvent(deps, customEvent(organizationId, contactId, 'cart.abandoned', { total: 20 }))).toBe(
      false,
    );
    expect(await applyRunEvent(deps, customEvent(organizationId, contactId, 'cart.viewed', { total: 80 }))).toBe(false);
    expect(await applyRunEvent(deps, customEvent(organizationId, contactId, 'cart.abandoned', { total: 80 }))).toBe(
      true,
    );
    for (const j of [form, points, custom]) expect(await runsOf(db.handle, j.journeyId)).toHaveLength(1);
    const [data] = await db.handle.rows<{ data: unknown }>(
      sql`select data from journey.runs where journey_id = ${custom.journeyId}`,
    );
    const parsed = typeof data!.data === 'string' ? JSON.parse(data!.data) : data!.data;
    expect(parsed).toMatchObject({
      event: { type: 'crm.contact.event-tracked', data: { name: 'cart.abandoned', properties: { total: 80 } } },
    });
  });

  it("a date field enters contacts on the day in their own time zone, from the trigger's time, once per occurrence", async () => {
    // 2026-06-11 00:30 UTC: already 09:30 on the 11th in Tokyo; still 20:30 on the 10th in New York.
    const clock = testClock('2026-06-11T00:30:00Z');
    const deps = { handle: db.handle, logger, now: clock.now };
    const { organizationId } = newOrg();
    const birthday = await publish(db.handle, organizationId, {
      entry: [{ type: 'dateField', field: 'fields.birthday', offsetDays: 0, repeat: 'yearly', at: '09:00' }],
      ...ends,
      settings: { entryRule: { kind: 'everyTime' } },
    });
    const renewal = await publish(db.handle, organizationId, {
      entry: [{ type: 'dateField', field: 'fields.renewal', offsetDays: -7, repeat: 'once', at: '00:00' }],
      ...ends,
    });
    const tokyo = await addContact(db.handle, organizationId, {
      timezone: 'Asia/Tokyo',
      fields: { birthday: '1990-06-11' },
    });
    const newYork = await addContact(db.handle, organizationId, {
      timezone: 'America/New_York',
      fields: { birthday: '1985-06-11' },
    });
    const renewing = await addContact(db.handle, organizationId, {
      timezone: 'America/New_York',
      fields: { renewal: '2026-06-17' },
    });
    await addContact(db.handle, organizationId, { fields: { renewal: '2027-06-17', birthday: 'not a date' } });
    expect(await runScheduledTriggers(deps)).toBe(2);
    expect((await runsOf(db.handle, birthday.journeyId)).map((r) => r.id)).toHaveLength(1);
    expect(await runsOf(db.handle, birthday.journeyId, tokyo)).toHaveLength(1);
    expect(await runsOf(db.handle, renewal.journeyId, renewing)).toHaveLength(1);
    // Evaluated again the same day: nobody twice, though the birthday journey takes every entry.
    expect(await runScheduledTriggers(deps)).toBe(0);
    // 09:00 on the 11th in New York.
    clock.set('2026-06-11T13:00:00Z');
    expect(await runScheduledTriggers(deps)).toBe(1);
    expect(await runsOf(db.handle, birthday.journeyId, newYork)).toHaveLength(1);
    // A year later, the birthday comes round again.
    clock.set('2027-06-11T13:00:00Z');
    expect(await runScheduledTriggers(deps)).toBe(2);
  });

  /** A journey published as of `at` (the series of a schedule without dtstart starts then). */
  const publishAt = (organizationId: string, definition: unknown, at: string) =>
    publish(db.handle, organizationId, definition, newId(), new Date(at));

  it('a schedule enters the segment at each occurrence of its rule, in the journey time zone', async () => {
    // Monday 2026-03-02 09:05 in Paris (CET).
    const clock = testClock('2026-03-02T08:05:00Z');
    const deps = { handle: db.handle, logger, now: clock.now };
    const { organizationId } = newOrg();
    const segmentId = newId();
    const weekly = await publishAt(
      organizationId,
      {
        entry: [{ type: 'schedule', rrule: 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0', segmentId }],
        ...ends,
        settings: { entryRule: { kind: 'everyTime' }, timezone: 'Europe/Paris' },
      },
      '2026-03-02T07:30:00Z',
    );
    for (let i = 0; i < 3; i++) await addContact(db.handle, organizationId, { segments: [segmentId] });
    expect(await runScheduledTriggers(deps)).toBe(3);
    clock.set('2026-03-02T08:50:00Z');
    expect(await runScheduledTriggers(deps)).toBe(0);
    // Tuesday: no occurrence.
    clock.set('2026-03-03T08:01:00Z');
    expect(await runScheduledTriggers(deps)).toBe(0);
    clock.set('2026-03-09T08:00:30Z');
    expect(await runScheduledTriggers(deps)).toBe(3);
    expect(await runsOf(db.handle, weekly.journeyId)).toHaveLength(6);
  });

  it('a schedule enrolls the segment once per occurrence, checked every minute, at 09:00 local across DST, until COUNT runs out', async () => {
    // 28 March 2026 is the last day of CET in Paris; from the 29th, CEST.
    const clock = testClock('2026-03-28T06:00:00Z');
    const deps = { handle: db.handle, logger, now: clock.now };
    const { organizationId } = newOrg();
    const segmentId = newId();
    const daily = await publishAt(
      organizationId,
      {
        entry: [
          {
            type: 'schedule',
            rrule: 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0;COUNT=2',
            dtstart: '2026-03-28T09:00',
            timezone: 'Europe/Paris',
            segmentId,
          },
        ],
        ...ends,
        settings: { entryRule: { kind: 'everyTime' } },
      },
      '2026-03-01T00:00:00Z',
    );
    const [a, b] = [
      await addContact(db.handle, organizationId, { segments: [segmentId] }),
      await addContact(db.handle, organizationId, { segments: [segmentId] }),
    ];
    /** Every minute from `from` to `to`: how many entered this journey at each minute that entered any. */
    const everyMinute = async (from: string, to: string) => {
      const entered: Record<string, number> = {};
      let before = (await runsOf(db.handle, daily.journeyId)).length;
      for (let t = Date.parse(from); t <= Date.parse(to); t += 60_000) {
        clock.set(new Date(t));
        await runScheduledTriggers(deps);
        const after = (await runsOf(db.handle, daily.journeyId)).length;
        if (after > before) entered[new Date(t).toISOString()] = after - before;
        before = after;
      }
      return entered;
    };
    expect(await everyMinute('2026-03-28T07:55:00Z', '2026-03-28T09:05:00Z')).toEqual({
      '2026-03-28T08:00:00.000Z': 2,
    });
    expect(await everyMinute('2026-03-29T06:55:00Z', '2026-03-29T08:05:00Z')).toEqual({
      '2026-03-29T07:00:00.000Z': 2,
    });
    // COUNT=2: the 30th is not an occurrence.
    expect(await everyMinute('2026-03-30T06:55:00Z', '2026-03-30T07:10:00Z')).toEqual({});
    expect(await runsOf(db.handle, daily.journeyId, a)).toHaveLength(2);
    expect(await runsOf(db.handle, daily.journeyId, b)).toHaveLength(2);
  });

  it('a schedule without dtstart starts at publication: an occurrence earlier that hour does not fire', async () => {
    // Published at 09:20 Paris; the rule's 09:00 is within the hour a missed occurrence is caught up.
    const clock = testClock('2026-03-02T08:21:00Z');
    const deps = { handle: db.handle, logger, now: clock.now };
    const { organizationId } = newOrg();
    const segmentId = newId();
    await publishAt(
      organizationId,
      {
        entry: [{ type: 'schedule', rrule: 'FREQ=DAILY;BYHOUR=9;BYMINUTE=0', segmentId }],
        ...ends,
        settings: { entryRule: { kind: 'everyTime' }, timezone: 'Europe/Paris' },
      },
      '2026-03-02T08:20:00Z',
    );
    await addContact(db.handle, organizationId, { segments: [segmentId] });
    expect(await runScheduledTriggers(deps)).toBe(0);
    clock.set('2026-03-03T08:00:00Z');
    expect(await runScheduledTriggers(deps)).toBe(1);
  });
});
