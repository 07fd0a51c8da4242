// JourneyRun: one contact walking one version of a journey; the runs query. (Its `contact` field
// is in contact.ts, with the contact's runs.)
import { connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { RunRow } from '../../app/runs.ts';
import { builder, services } from '../builder.ts';
import { Journey } from './journey.ts';
import { JourneyStepLogEntry } from './journey-step-log-entry.ts';

export const JourneyRunStateEnum = builder.enumType('JourneyRunState', {
  values: {
    READY: { value: 'ready', description: 'Due to move on now' },
    WAITING: { value: 'waiting', description: 'Waiting for a time or an event' },
    COMPLETED: { value: 'completed' },
    CONVERTED: { value: 'converted', description: 'Reached a goal' },
    EXITED: { value: 'exited' },
    FAILED: { value: 'failed' },
  } as const,
});

export const JourneyRun = builder.objectRef<RunRow>('JourneyRun').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    journeyId: t.exposeID('journeyId'),
    journey: t.field({
      type: Journey,
      nullable: true,
      resolve: async (r, _, ctx) => orThrow(await services(ctx).getJourney(ctx.request, r.journeyId)),
    }),
    version: t.exposeInt('version', { description: 'The version the run walks' }),
    state: t.field({ type: JourneyRunStateEnum, resolve: (r) => r.state }),
    stepId: t.exposeString('stepId', { description: 'Where the run is (where it ended, once ended)' }),
    visit: t.exposeInt('visit'),
    dueAt: t.expose('dueAt', { type: 'DateTime', nullable: true }),
    data: t.field({ type: 'JSON', description: "The trigger's data and what steps added", resolve: (r) => r.data }),
    enteredAt: t.expose('enteredAt', { type: 'DateTime' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    steps: t.field({
      type: [JourneyStepLogEntry],
      description: 'What each step did, in order',
      resolve: (r, _, ctx) => services(ctx).stepsOf(r),
    }),
  }),
});

const JourneyRunFilter = builder.inputType('JourneyRunFilter', {
  fields: (f) => ({
    journeyId: f.id(),
    version: f.int({ description: "A version number (of the journey given, else of every journey's)" }),
    contactId: f.id(),
    state: f.field({ type: JourneyRunStateEnum }),
  }),
});

export type RunFilterInput = typeof JourneyRunFilter.$inferInput;

/** The use case's filter from the GraphQL one (absent and null both mean "any"). */
export const toRunFilter = (filter: RunFilterInput | null | undefined) => ({
  ...(filter?.journeyId != null ? { journeyId: String(filter.journeyId) } : {}),
  ...(filter?.version != null ? { version: filter.version } : {}),
  ...(filter?.contactId != null ? { contactId: String(filter.contactId) } : {}),
  ...(filter?.state != null ? { state: filter.state } : {}),
});

export const JourneyRunConnection = connectionWithTotalCount('JourneyRunConnection');

builder.queryField('journeyRuns', (t) =>
  t.connection(
    {
      type: JourneyRun,
      description: 'Runs, newest first',
      args: { filter: t.arg({ type: JourneyRunFilter }) },
      resolve: async (_, args, ctx) =>
        orThrow(await services(ctx).listRuns(ctx.request, toRunFilter(args.filter), pageWindow(args))),
    },
    JourneyRunConnection,
  ),
);
