// The journey context's use cases, bound to their dependencies.
import { journeyConsumers } from './consumers.ts';
import type { JourneyDeps } from './deps.ts';
import { enrollContact, enrollSegment } from './enrollment.ts';
import { archiveJourney, pauseJourney, publishJourney, resumeJourney } from './journey-lifecycle.ts';
import { journeyStats } from './journey-stats.ts';
import {
  createJourney,
  deleteJourney,
  draftIssues,
  getJourney,
  listJourneys,
  updateJourney,
  validateJourney,
  versionsOf,
} from './journeys.ts';
import { listRuns, stepsOf } from './runs.ts';

export function createJourneyServices(deps: JourneyDeps) {
  const bind =
    <A extends unknown[], R>(fn: (deps: JourneyDeps, ...args: A) => R) =>
    (...args: A) =>
      fn(deps, ...args);
  return {
    deps,
    createJourney: bind(createJourney),
    updateJourney: bind(updateJourney),
    deleteJourney: bind(deleteJourney),
    validateJourney: bind(validateJourney),
    publishJourney: bind(publishJourney),
    pauseJourney: bind(pauseJourney),
    resumeJourney: bind(resumeJourney),
    archiveJourney: bind(archiveJourney),
    getJourney: bind(getJourney),
    listJourneys: bind(listJourneys),
    draftIssues: bind(draftIssues),
    versionsOf: bind(versionsOf),
    journeyStats: bind(journeyStats),
    listRuns: bind(listRuns),
    stepsOf: bind(stepsOf),
    enrollContact: bind(enrollContact),
    enrollSegment: bind(enrollSegment),
    subscriptions: () => journeyConsumers(deps),
  };
}

export type JourneyServices = ReturnType<typeof createJourneyServices>;
