// The journey context's events: its journeys' lifecycle (keyed by the journey) and what runs do
// (keyed by the contact, so one contact's runs keep their order). What steps ask other contexts
// to do is in journey-actions.ts.
import { z } from 'zod';
import { defineEvent } from '../events/envelope.ts';

const journey = {
  name: z.string().min(1).max(200),
};

export const journeyCreated = defineEvent('journey.journey.created', 1, 'journey', z.object(journey));

/** A version was published: new runs enter it, runs on older versions finish where they are. */
export const journeyPublished = defineEvent(
  'journey.journey.published',
  1,
  'journey',
  z.object({
    ...journey,
    versionId: z.uuid(),
    version: z.number().int().positive(),
    /** The published version's entry triggers as keys (`segmentEntered:<id>`, `event:<type>`, `api`...). */
    entryKeys: z.array(z.string()),
  }),
);

/** Runs hold at their step; timers keep their due time. */
export const journeyPaused = defineEvent('journey.journey.paused', 1, 'journey', z.object(journey));
/** Runs go on; what fell due while paused runs first. */
export const journeyResumed = defineEvent('journey.journey.resumed', 1, 'journey', z.object(journey));
/** No run enters any more, and the runs in progress have exited. */
export const journeyArchived = defineEvent('journey.journey.archived', 1, 'journey', z.object(journey));
export const journeyDeleted = defineEvent('journey.journey.deleted', 1, 'journey', z.object(journey));

// --- runs: the subject is the contact ------------------------------------------------------------

const run = {
  runId: z.uuid(),
  journeyId: z.uuid(),
  versionId: z.uuid(),
  version: z.number().int().positive(),
};

export const runStarted = defineEvent(
  'journey.run.started',
  1,
  'contact',
  z.object({
    ...run,
    /** What brought the contact in: `segmentEntered`, `event`, `dateField`, `schedule`, `api`, `enterJourney`. */
    trigger: z.string().min(1).max(40),
  }),
);

export const stepCompleted = defineEvent(
  'journey.step.completed',
  1,
  'contact',
  z.object({
    ...run,
    stepId: z.string().min(1).max(64),
    stepType: z.string().min(1).max(40),
    visit: z.number().int().positive(),
    status: z.enum(['completed', 'failed', 'skipped']),
    /** What the step did: the message requested, the branch taken, why it was skipped. */
    outcome: z.record(z.string(), z.unknown()),
  }),
);

/** The run reached the end of its path (a step with nowhere to go). */
export const runCompleted = defineEvent(
  'journey.run.completed',
  1,
  'contact',
  z.object({ ...run, stepId: z.string().min(1).max(64) }),
);

/** The run reached a goal, or the goal's event happened while the run was anywhere. */
export const runConverted = defineEvent(
  'journey.run.converted',
  1,
  'contact',
  z.object({ ...run, stepId: z.string().min(1).max(64), goal: z.string().min(1).max(200) }),
);

export const runExited = defineEvent(
  'journey.run.exited',
  1,
  'contact',
  z.object({
    ...run,
    /** Where the run was when it exited. */
    stepId: z.string().min(1).max(64),
    reason: z.enum(['exit_step', 'left_segment', 'dnc', 'archived', 'contact_deleted', 'holdout']),
  }),
);

/** A step failed for good (not a skipped send: that completes the step as skipped). */
export const runFailed = defineEvent(
  'journey.run.failed',
  1,
  'contact',
  z.object({ ...run, stepId: z.string().min(1).max(64), error: z.string().max(2000) }),
);
