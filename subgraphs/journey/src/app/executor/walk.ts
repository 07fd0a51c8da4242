// Walks one claimed run through its version's steps, in memory, until it parks or ends: each step
// it executes becomes a step log entry (run, step, visit) with the events it asked for, and the
// run's new state. The stepper commits all of it in one transaction, or none of it.
import { catalogue, createEvent, type EventDefinition, type EventEnvelope } from '@mauntic/kernel';
import type { RunState, StepStatus } from '../../db/schema.ts';
import { MAX_STEPS, type StepId } from '../../domain/definition.ts';
import type { ContactState } from './contact-state.ts';
import type { ClaimedRun, LoadedVersion, RunWait } from './run-state.ts';
import { type ExitReason, runStep, type StepContext, type StepResult } from './steps.ts';
import { knownZone } from './zoned-time.ts';

export interface WalkInput {
  run: ClaimedRun;
  version: LoadedVersion;
  contact: ContactState;
  now: Date;
  /** The highest visit already logged for each step of this run (empty for a new run). */
  visits: Map<StepId, number>;
  /** Sends of this contact in this journey within the frequency cap's period. */
  capped: { sent: number };
}

export interface StepLogEntry {
  stepId: StepId;
  visit: number;
  status: StepStatus;
  outcome: Record<string, unknown>;
}

export interface WalkResult {
  logs: StepLogEntry[];
  /** Each event with the step that asked for it (null: the run's own end, after an interrupt). */
  events: { event: EventEnvelope; step: { stepId: StepId; visit: number } | null }[];
  /** Journeys the contact enters when this commits. */
  enter: string[];
  run: {
    state: RunState;
    stepId: StepId;
    visit: number;
    dueAt: Date | null;
    wait: RunWait | null;
    endedAt: Date | null;
  };
}

export function walkRun(input: WalkInput): WalkResult {
  const { run, version, contact, now, visits } = input;
  const { steps, settings } = version.definition;
  const result: WalkResult = {
    logs: [],
    events: [],
    enter: [],
    run: { state: run.state, stepId: run.stepId, visit: run.visit, dueAt: run.dueAt, wait: run.wait, endedAt: null },
  };
  const runData = { runId: run.id, journeyId: run.journeyId, versionId: run.versionId, version: version.version };
  const emit = <T>(
    def: EventDefinition<string, T>,
    data: T,
    step: WalkResult['events'][number]['step'],
    cause?: string,
  ) =>
    result.events.push({
      step,
      event: createEvent(def, {
        organizationId: run.organizationId,
        subjectId: run.contactId,
        correlationId: run.id,
        ...(cause ? { causationId: cause } : {}),
        occurredAt: now,
        data,
      }),
    });
  const end = (state: 'completed' | 'converted' | 'exited' | 'failed', stepId: StepId, visit: number) => {
    result.run = { state, stepId, visit, dueAt: null, wait: null, endedAt: now };
  };
  const exit = (
    reason: ExitReason,
    stepId: StepId,
    visit: number,
    step: WalkResult['events'][number]['step'],
    cause?: string,
  ) => {
    end('exited', stepId, visit);
    emit(catalogue.journey.runExited, { ...runData, stepId, reason }, step, cause);
  };

  // Interrupts the event consumer set: the run ends, or jumps to a goal, wherever it is.
  let parked = run.wait;
  let stepId = run.stepId;
  let visit = run.visit;
  if (version.invalid) {
    end('failed', stepId, visit);
    emit(catalogue.journey.runFailed, { ...runData, stepId, error: version.invalid }, null);
    return result;
  }
  if (parked?.kind === 'exit') {
    exit(parked.reason, stepId, visit, null, parked.eventId);
    return result;
  }
  if (contact.deleted) {
    exit('contact_deleted', stepId, visit, null);
    return result;
  }
  let cause: string | undefined;
  if (parked?.kind === 'goal') {
    cause = parked.eventId;
    stepId = parked.step;
    visit = (visits.get(stepId) ?? 0) + 1;
    parked = null;
  }

  const zone = knownZone(contact.timezone, settings.timezone);
  for (let walked = 0; walked <= MAX_STEPS; walked++) {
    const step = steps[stepId];
    const key = { stepId, visit };
    const ctx: StepContext = {
      run,
      version,
      stepId,
      visit,
      now,
      zone,
      contact,
      parked,
      dueAt: parked ? run.dueAt : null,
      capped: input.capped,
      key: `journey:${run.id}:${stepId}:${visit}`,
      emit: (def, data) => emit(def, data, key, cause),
      enter: (journeyId) => result.enter.push(journeyId),
    };
    let outcome: StepResult;
    try {
      if (!step) throw new Error(`the version has no step ${stepId}`);
      outcome = runStep(step, ctx);
    } catch (error) {
      const message = (error as Error).message.slice(0, 2000);
      record(stepId, visit, 'failed', { error: message }, step?.type ?? 'unknown');
      end('failed', stepId, visit);
      emit(catalogue.journey.runFailed, { ...runData, stepId, error: message }, key, cause);
      return result;
    }
    if ('park' in outcome) {
      result.run = {
        state: 'waiting',
        stepId,
        visit,
        dueAt: outcome.park.dueAt,
        wait: outcome.park.wait,
        endedAt: null,
      };
      return result;
    }
    record(
      stepId,
      visit,
      'skipped' in outcome && outcome.skipped ? 'skipped' : 'completed',
      outcome.outcome,
      step!.type,
    );
    if ('end' in outcome) {
      if (outcome.end === 'converted') {
        end('converted', stepId, visit);
        emit(catalogue.journey.runConverted, { ...runData, stepId, goal: outcome.goal! }, key, cause);
      } else exit(outcome.reason!, stepId, visit, key, cause);
      return result;
    }
    if (outcome.go === null) {
      end('completed', stepId, visit);
      emit(catalogue.journey.runCompleted, { ...runData, stepId }, key, cause);
      return result;
    }
    stepId = outcome.go;
    visit = (visits.get(stepId) ?? 0) + 1;
    parked = null;
  }
  // Validation refuses loops without a wait; a walk this long means the definition escaped it.
  end('failed', stepId, visit);
  emit(catalogue.journey.runFailed, { ...runData, stepId, error: `walked ${MAX_STEPS} steps without waiting` }, null);
  return result;

  function record(id: StepId, n: number, status: StepStatus, outcome: Record<string, unknown>, stepType: string) {
    visits.set(id, n);
    result.logs.push({ stepId: id, visit: n, status, outcome });
    emit(
      catalogue.journey.stepCompleted,
      { ...runData, stepId: id, stepType, visit: n, status, outcome },
      { stepId: id, visit: n },
      cause,
    );
  }
}
