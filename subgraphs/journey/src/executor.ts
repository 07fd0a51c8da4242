// The journey context as its executor (workers/journey-executor) and the journeys benchmark reach
// it: `@mauntic/journey/executor`, their one way in. The executor claims `runs`, walks them through
// their version's definition, and records each step in `step_log` with its events in `outbox`.

export { type EntryTarget, enterContacts, RUNS_CHANNEL } from './app/executor/enter.ts';
export { JourneyExecutor, type JourneyExecutorOptions } from './app/executor/journey-executor.ts';
export {
  applyRunEvent,
  CUSTOM_EVENT_TYPE,
  EXECUTOR_CONSUMER,
  runEventsSubscription,
} from './app/executor/run-events.ts';
export { runScheduledTriggers } from './app/executor/scheduled-triggers.ts';
export { type BatchStats, Stepper } from './app/executor/stepper.ts';
export {
  contacts,
  customFields,
  entries,
  journeys,
  journeyVersions,
  outbox,
  processedEvents,
  RUN_STATES,
  type RunState,
  runs,
  STEP_STATUSES,
  type StepStatus,
  segmentMemberships,
  segments,
  stepLog,
  templates,
} from './db/schema.ts';
export { branchFor } from './domain/branches.ts';
export * from './domain/definition.ts';
export * from './domain/errors.ts';
export * from './domain/lifecycle.ts';
export * from './domain/validation.ts';
