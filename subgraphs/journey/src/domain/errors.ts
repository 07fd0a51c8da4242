// Every expected failure of the journey context that is its own (the kernel's validation, not
// found, unauthenticated and forbidden errors are shared by all contexts).
import { DomainError } from '@mauntic/kernel';
import type { JourneyAction, JourneyStatus } from './lifecycle.ts';

export type IssueCode =
  /** The definition does not have the shape of one (a missing field, a wrong type...). */
  | 'invalid'
  | 'unknown_step'
  | 'unreachable_step'
  | 'cycle_without_wait'
  | 'weights_not_100'
  | 'duplicate_variant'
  | 'not_a_goal'
  | 'not_an_email_send'
  | 'unknown_event'
  | 'invalid_rrule'
  | 'invalid_target'
  | 'empty_update'
  | 'empty_window'
  | 'unknown_template'
  | 'wrong_template_channel'
  | 'unknown_field'
  | 'wrong_field_type'
  | 'unknown_segment'
  | 'invalid_filter'
  | 'segment_not_static'
  | 'unknown_journey'
  | 'self_reference';

/** One problem of a definition, pointing at the step (when it is in one) and the place in it. */
export interface JourneyIssue {
  stepId: string | null;
  /** Where in the definition: ["steps", "welcome", "templateId"], ["settings", "exit", "goals", "0"]. */
  path: string[];
  code: IssueCode;
  message: string;
}

/** The definition cannot be published as it is: every issue, each pointing at its step. */
export class JourneyValidationError extends DomainError {
  readonly type = 'journey_validation' as const;
  readonly code = 'JOURNEY_INVALID';
  constructor(readonly issues: [JourneyIssue, ...JourneyIssue[]]) {
    super(
      `the journey definition has ${issues.length} issue${issues.length === 1 ? '' : 's'}: ${issues
        .slice(0, 3)
        .map((i) => (i.stepId ? `${i.stepId}: ${i.message}` : i.message))
        .join('; ')}`,
    );
  }
}

/** A lifecycle move the journey's status does not allow (resuming an active journey, editing an archived one). */
export class JourneyTransitionError extends DomainError {
  readonly type = 'journey_transition' as const;
  readonly code = 'JOURNEY_ILLEGAL_TRANSITION';
  constructor(
    readonly status: JourneyStatus,
    readonly action: JourneyAction,
  ) {
    super(`the journey is ${status}: it cannot be ${PAST[action]}`);
  }
}

const PAST: Record<JourneyAction, string> = {
  edit: 'edited',
  publish: 'published',
  pause: 'paused',
  resume: 'resumed',
  archive: 'archived',
  delete: 'deleted',
};
