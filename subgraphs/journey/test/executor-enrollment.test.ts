// Enrolling by API, on Postgres and PGlite: one contact or a segment, by the journey's entry
// rule, only into an active journey with an api trigger, and only the caller's organization's
// journeys, contacts and segments: another organization's ids are not found and change nothing.
import { catalogue, createEvent, newId } from '@mauntic/kernel';
import { sql } from '@mauntic/platform';
import { organizationSnapshot } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enrollContact, enrollSegment } from '../src/app/enrollment.ts';
import { applyEnrollmentRequest } from '../src/app/enrollment-requests.ts';
import {
  addContact,
  type Kind,
  logger,
  newOrg,
  openExecutorDatabase,
  publish,
  runsOf,
  setStatus,
  testClock,
} from './fixtures/executor-harness.ts';

const apiJourney = (rule = 'once') => ({
  entry: [{ type: 'api' }],
  start: 'end',
  steps: { end: { type: 'exit' } },
  settings: { entryRule: { kind: rule } },
});

describe.each(['postgres', 'pglite'] as Kind[])('enrollment on %s', (kind) => {
  let db: Awaited<ReturnType<typeof openExecutorDatabase>>;
  beforeAll(async () => {
    db = await openExecutorDatabase(kind);
  });
  afterAll(async () => {
    await db?.close();
  });
  const deps = () => ({ handle: db.handle, logger, now: testClock().now });

  it('enrolls a contact once under the once rule, and a segment by its current members', async () => {
    const ctx = newOrg();
    const segmentId = newId();
    const members = [
      await addContact(db.handle, ctx.organizationId, { segments: [segmentId] }),
      await addContact(db.handle, ctx.organizationId, { segments: [segmentId] }),
    ];
    const { journeyId } = await publish(db.handle, ctx.organizationId, apiJourney());
    const first = await enrollContact(deps(), ctx, { journeyId, contactId: members[0]!, data: { coupon: 'X1' } });
    expect(first.ok && first.value.runId).toBeTruthy();
    expect(await enrollContact(deps(), ctx, { journeyId, contactId: members[0]! })).toEqual({
      ok: true,
      value: { journeyId, contactId: members[0], runId: null },
    });
    expect(await enrollSegment(deps(), ctx, { journeyId, segmentId })).toEqual({
      ok: true,
      value: { journeyId, segmentId, entered: 1 },
    });
    const runs = await runsOf(db.handle, journeyId);
    expect(runs).toHaveLength(2);
    const [data] = await db.handle.rows<{ data: unknown }>(
      sql`select data from journey.runs where contact_id = ${members[0]!}`,
    );
    expect(typeof data!.data === 'string' ? JSON.parse(data!.data) : data!.data).toEqual({ coupon: 'X1' });
  });

  it('refuses a draft, paused or archived journey, and one without an api trigger, as conflicts', async () => {
    const ctx = newOrg();
    const contactId = await addContact(db.handle, ctx.organizationId);
    const noApi = await publish(db.handle, ctx.organizationId, {
      ...apiJourney(),
      entry: [{ type: 'segmentEntered', segmentId: newId() }],
    });
    const paused = await publish(db.handle, ctx.organizationId, apiJourney());
    await setStatus(db.handle, paused.journeyId, 'paused');
    for (const journeyId of [noApi.journeyId, paused.journeyId]) {
      const result = await enrollContact(deps(), ctx, { journeyId, contactId });
      expect(result.ok ? null : result.error.code).toBe('CONFLICT');
    }
    expect(await runsOf(db.handle, paused.journeyId)).toEqual([]);
  });

  it('enrolls the contact a CRM point trigger names, once however often the request arrives', async () => {
    const ctx = newOrg();
    const { journeyId } = await publish(db.handle, ctx.organizationId, apiJourney('everyTime'));
    const contactId = await addContact(db.handle, ctx.organizationId);
    const request = (journey: string) =>
      createEvent(catalogue.crm.journeyEnrollmentRequested, {
        organizationId: ctx.organizationId,
        subjectId: contactId,
        correlationId: newId(),
        data: { journeyId: journey, triggerId: newId(), idempotencyKey: 'point-trigger:x:y:1' },
      });
    const event = request(journeyId);
    expect(await applyEnrollmentRequest(deps(), event)).toBe(true);
    expect(await applyEnrollmentRequest(deps(), event)).toBe(false);
    expect(await runsOf(db.handle, journeyId)).toHaveLength(1);
    // A journey of another organization is not found: applied (logged), nothing entered.
    const other = await publish(db.handle, newOrg().organizationId, apiJourney('everyTime'));
    expect(await applyEnrollmentRequest(deps(), request(other.journeyId))).toBe(true);
    expect(await runsOf(db.handle, other.journeyId)).toEqual([]);
  });

  it('needs journey:write, and valid ids', async () => {
    const ctx = newOrg();
    const { journeyId } = await publish(db.handle, ctx.organizationId, apiJourney());
    const contactId = await addContact(db.handle, ctx.organizationId);
    const reader = { ...ctx, scopes: ['journey:read' as const] };
    const denied = await enrollContact(deps(), reader, { journeyId, contactId });
    expect(denied.ok ? null : denied.error.code).toBe('FORBIDDEN');
    const invalid = await enrollSegment(deps(), ctx, { journeyId, segmentId: 'not-a-uuid' });
    expect(invalid.ok ? null : invalid.error.code).toBe('VALIDATION_FAILED');
  });

  it("another organization cannot enroll into A's journey, nor A's contact or segment into its own", async () => {
    const a = newOrg();
    const b = newOrg();
    const segmentA = newId();
    const contactA = await addContact(db.handle, a.organizationId, { segments: [segmentA] });
    const journeyA = await publish(db.handle, a.organizationId, apiJourney('everyTime'));
    const journeyB = await publish(db.handle, b.organizationId, apiJourney('everyTime'));
    const contactB = await addContact(db.handle, b.organizationId);
    const before = await organizationSnapshot(db.handle, 'journey', a.organizationId);
    const attempts = [
      [() => enrollContact(deps(), b, { journeyId: journeyA.journeyId, contactId: contactB }), 'Journey'],
      [() => enrollContact(deps(), b, { journeyId: journeyB.journeyId, contactId: contactA }), 'Contact'],
      [() => enrollSegment(deps(), b, { journeyId: journeyA.journeyId, segmentId: segmentA }), 'Journey'],
      [() => enrollSegment(deps(), b, { journeyId: journeyB.journeyId, segmentId: segmentA }), 'Segment'],
    ] as const;
    for (const [attempt, entity] of attempts) {
      const result = await attempt();
      expect(result.ok ? null : [result.error.code, (result.error as { entity?: string }).entity]).toEqual([
        'NOT_FOUND',
        entity,
      ]);
    }
    expect(await organizationSnapshot(db.handle, 'journey', a.organizationId)).toBe(before);
    expect(await runsOf(db.handle, journeyB.journeyId)).toEqual([]);
  });
});
