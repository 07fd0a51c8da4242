import { describe, expect, it } from 'vitest';
import { catalogue, parseEvent } from '../events/catalogue.ts';
import { createEvent } from '../events/envelope.ts';

const org = '01900000-0000-7000-8000-000000000001';
const journey = '01900000-0000-7000-8000-000000000002';
const version = '01900000-0000-7000-8000-000000000003';
const run = '01900000-0000-7000-8000-000000000004';
const contact = '01900000-0000-7000-8000-000000000005';

const roundTrip = (event: unknown) => parseEvent(JSON.parse(JSON.stringify(event)));

describe('journey events', () => {
  it("keys a journey's lifecycle by the journey, and parses it back unchanged", () => {
    const published = createEvent(catalogue.journey.journeyPublished, {
      organizationId: org,
      subjectId: journey,
      correlationId: 'c',
      data: { name: 'Welcome', versionId: version, version: 2, entryKeys: ['api'] },
    });
    expect(published).toMatchObject({ type: 'journey.journey.published', subject: { type: 'journey', id: journey } });
    expect(roundTrip(published)).toEqual(published);
    for (const def of [
      catalogue.journey.journeyCreated,
      catalogue.journey.journeyPaused,
      catalogue.journey.journeyResumed,
      catalogue.journey.journeyArchived,
      catalogue.journey.journeyDeleted,
    ]) {
      const event = createEvent(def, {
        organizationId: org,
        subjectId: journey,
        correlationId: 'c',
        data: { name: 'W' },
      });
      expect(roundTrip(event)).toEqual(event);
    }
  });

  it('keys what runs do by the contact', () => {
    const base = { runId: run, journeyId: journey, versionId: version, version: 1 };
    const events = [
      createEvent(catalogue.journey.runStarted, {
        organizationId: org,
        subjectId: contact,
        correlationId: 'c',
        data: { ...base, trigger: 'segmentEntered' },
      }),
      createEvent(catalogue.journey.stepCompleted, {
        organizationId: org,
        subjectId: contact,
        correlationId: 'c',
        data: { ...base, stepId: 'split', stepType: 'split', visit: 1, status: 'completed', outcome: { branch: 0 } },
      }),
      createEvent(catalogue.journey.runCompleted, {
        organizationId: org,
        subjectId: contact,
        correlationId: 'c',
        data: { ...base, stepId: 'last' },
      }),
      createEvent(catalogue.journey.runConverted, {
        organizationId: org,
        subjectId: contact,
        correlationId: 'c',
        data: { ...base, stepId: 'bought', goal: 'Bought' },
      }),
      createEvent(catalogue.journey.runExited, {
        organizationId: org,
        subjectId: contact,
        correlationId: 'c',
        data: { ...base, stepId: 'wait', reason: 'left_segment' },
      }),
      createEvent(catalogue.journey.runFailed, {
        organizationId: org,
        subjectId: contact,
        correlationId: 'c',
        data: { ...base, stepId: 'send', error: 'no template' },
      }),
    ];
    for (const event of events) {
      expect(event.subject).toEqual({ type: 'contact', id: contact });
      expect(roundTrip(event)).toEqual(event);
    }
  });

  it('refuses a run event that does not say which run, or a step status it does not know', () => {
    const exited = createEvent(catalogue.journey.runExited, {
      organizationId: org,
      subjectId: contact,
      correlationId: 'c',
      data: { runId: run, journeyId: journey, versionId: version, version: 1, stepId: 'x', reason: 'dnc' },
    });
    expect(() => roundTrip({ ...exited, data: { ...exited.data, runId: 'nope' } })).toThrow(
      /invalid journey.run.exited v1 data/,
    );
    expect(() => roundTrip({ ...exited, data: { ...exited.data, reason: 'bored' } })).toThrow(/invalid/);
  });
});
