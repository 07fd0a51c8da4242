// The expected failures: the shared ones (scalars and the Error interface come with them) and
// the journey context's own, as mutation payloads show them.
import { addCommonTypes } from '@mauntic/platform';
import { type JourneyIssue, JourneyTransitionError, JourneyValidationError } from '../../domain/errors.ts';
import { builder } from '../builder.ts';
import { JourneyStatusEnum } from './journey-status.ts';

const { ErrorInterface } = addCommonTypes(builder);

export const JourneyValidationIssue = builder.objectRef<JourneyIssue>('JourneyValidationIssue').implement({
  description: 'One problem of a journey definition, pointing at its step and its place in the definition.',
  fields: (t) => ({
    stepId: t.exposeString('stepId', { nullable: true, description: 'The step it is in; null outside steps' }),
    path: t.exposeStringList('path', { description: 'e.g. ["steps", "welcome", "templateId"]' }),
    code: t.exposeString('code', {
      description:
        'invalid, unknown_step, unreachable_step, cycle_without_wait, weights_not_100, duplicate_variant, not_a_goal, ' +
        'not_an_email_send, unknown_event, invalid_rrule, invalid_target, empty_update, empty_window, unknown_template, ' +
        'wrong_template_channel, unknown_field, wrong_field_type, unknown_segment, segment_not_static, unknown_journey, ' +
        'self_reference',
    }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(JourneyValidationError, {
  name: 'JourneyValidationError',
  description: 'The definition has issues and cannot be published as it is; nothing was published.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ issues: t.field({ type: [JourneyValidationIssue], resolve: (e) => e.issues }) }),
});

builder.objectType(JourneyTransitionError, {
  name: 'JourneyTransitionError',
  description: "The journey's status does not allow this (resuming an active journey, editing an archived one...).",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    status: t.field({ type: JourneyStatusEnum, resolve: (e) => e.status }),
    action: t.exposeString('action', { description: 'edit, publish, pause, resume, archive or delete' }),
  }),
});
