// JourneyStats: how contacts move through a journey, per step and per goal.
import type { GoalStats, JourneyStats, StepStats } from '../../app/journey-stats.ts';
import { builder } from '../builder.ts';

const JourneyStepStats = builder.objectRef<StepStats>('JourneyStepStats').implement({
  fields: (t) => ({
    stepId: t.exposeString('stepId'),
    type: t.exposeString('type', { nullable: true, description: 'null for a step no longer in the definition read' }),
    entered: t.exposeInt('entered', { description: 'Times runs came to the step' }),
    completed: t.exposeInt('completed'),
    skipped: t.exposeInt('skipped'),
    failed: t.exposeInt('failed'),
    waiting: t.exposeInt('waiting', { description: 'Runs at the step now' }),
    converted: t.exposeInt('converted', { description: 'Runs that passed the step and converted' }),
  }),
});

const JourneyGoalStats = builder.objectRef<GoalStats>('JourneyGoalStats').implement({
  fields: (t) => ({
    stepId: t.exposeString('stepId'),
    name: t.exposeString('name', { nullable: true }),
    converted: t.exposeInt('converted'),
    rate: t.exposeFloat('rate', { description: 'converted / runs that entered the journey, 0 to 1' }),
  }),
});

export const JourneyStatsType = builder.objectRef<JourneyStats>('JourneyStats').implement({
  fields: (t) => ({
    entered: t.exposeInt('entered', { description: 'Runs started' }),
    active: t.exposeInt('active', { description: 'Runs in progress' }),
    completed: t.exposeInt('completed'),
    converted: t.exposeInt('converted'),
    exited: t.exposeInt('exited'),
    failed: t.exposeInt('failed'),
    steps: t.field({ type: [JourneyStepStats], resolve: (s) => s.steps }),
    goals: t.field({ type: [JourneyGoalStats], resolve: (s) => s.goals }),
  }),
});
