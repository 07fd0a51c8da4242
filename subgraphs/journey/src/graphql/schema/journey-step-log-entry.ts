// JourneyStepLogEntry: what one step did for one run, once per visit.
import type { StepLogRow } from '../../app/runs.ts';
import { builder } from '../builder.ts';

const StepStatusEnum = builder.enumType('JourneyStepStatus', {
  values: {
    COMPLETED: { value: 'completed' },
    FAILED: { value: 'failed' },
    SKIPPED: { value: 'skipped', description: 'e.g. a send to a contact without an address; see the outcome' },
  } as const,
});

export const JourneyStepLogEntry = builder.objectRef<StepLogRow>('JourneyStepLogEntry').implement({
  fields: (t) => ({
    stepId: t.exposeString('stepId'),
    visit: t.exposeInt('visit', { description: '1 the first time the run came to the step, 2 the next...' }),
    status: t.field({ type: StepStatusEnum, resolve: (e) => e.status }),
    outcome: t.field({
      type: 'JSON',
      description: 'What the step did: the message requested, the branch taken, why it was skipped...',
      resolve: (e) => e.outcome,
    }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});
