// Journey: a graph of steps contacts walk, edited as a draft and published as versions; the
// queries that read journeys and the mutations that return one.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { JourneyRow } from '../../app/journeys.ts';
import { JourneyTransitionError, JourneyValidationError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';
import { JourneyValidationIssue } from './errors.ts';
import { JourneyStatsType } from './journey-stats.ts';
import { JourneyStatusEnum } from './journey-status.ts';
import { JourneyVersion } from './journey-version.ts';

export const Journey = builder.objectRef<JourneyRow>('Journey').implement({
  description: 'A graph of steps contacts walk: edited as a draft, published as immutable versions.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    status: t.field({ type: JourneyStatusEnum, resolve: (j) => j.status }),
    definition: t.field({
      type: 'JSON',
      description: 'The draft: { entry, start, steps, settings }. Saved even when invalid; see issues',
      resolve: (j) => j.definition,
    }),
    issues: t.field({
      type: [JourneyValidationIssue],
      description: 'What stands in the way of publishing the draft (empty when it can be published)',
      resolve: (j, _, ctx) => services(ctx).draftIssues(j),
    }),
    version: t.int({
      nullable: true,
      description: 'The current version, which new runs enter; null until first published',
      resolve: (j) => j.version || null,
    }),
    currentVersion: t.field({
      type: JourneyVersion,
      nullable: true,
      resolve: async (j, _, ctx) => (await services(ctx).versionsOf(j)).find((v) => v.id === j.currentVersionId),
    }),
    versions: t.field({
      type: [JourneyVersion],
      description: 'Newest first',
      resolve: (j, _, ctx) => services(ctx).versionsOf(j),
    }),
    stats: t.field({
      type: JourneyStatsType,
      args: { version: t.arg.int({ description: 'One version; every version when not given' }) },
      resolve: (j, args, ctx) => services(ctx).journeyStats(j, args.version ?? undefined),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('journey', (t) =>
  t.field({
    type: Journey,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getJourney(ctx.request, String(id))),
  }),
);

builder.queryField('journeys', (t) =>
  t.connection(
    {
      type: Journey,
      args: { status: t.arg({ type: JourneyStatusEnum }) },
      resolve: async (_, args, ctx) =>
        orThrow(
          await services(ctx).listJourneys(ctx.request, args.status ? { status: args.status } : {}, pageWindow(args)),
        ),
    },
    connectionWithTotalCount('JourneyConnection'),
  ),
);

const DEFINITION_DESCRIPTION =
  '{ entry: [trigger], start: stepId, steps: { stepId: step }, settings } (see the README); may be incomplete';

builder.mutationField('createJourney', (t) =>
  t.field({
    type: Journey,
    description: 'A new draft; without a definition, one that contacts enter through the API and leave at once',
    args: {
      input: t.arg({
        type: builder.inputType('CreateJourneyInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            description: f.string(),
            definition: f.field({ type: 'JSON', description: DEFINITION_DESCRIPTION }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createJourney(ctx.request, {
          name: input.name,
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.definition != null ? { definition: input.definition as Record<string, unknown> } : {}),
        }),
      ),
  }),
);

builder.mutationField('updateJourney', (t) =>
  t.field({
    type: Journey,
    description: 'Changes the draft (valid or not: see issues); published versions stay as they are',
    args: {
      input: t.arg({
        type: builder.inputType('UpdateJourneyInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            name: f.string(),
            description: f.string({ description: 'null clears it' }),
            definition: f.field({ type: 'JSON', description: DEFINITION_DESCRIPTION }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError, JourneyTransitionError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).updateJourney(ctx.request, {
          id: String(input.id),
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.definition != null ? { definition: input.definition as Record<string, unknown> } : {}),
        }),
      ),
  }),
);

/** A mutation that takes a journey's id and returns the journey. */
function journeyMove(
  name: 'deleteJourney' | 'publishJourney' | 'pauseJourney' | 'resumeJourney' | 'archiveJourney',
  description: string,
  errors: (typeof JourneyValidationError | typeof JourneyTransitionError | typeof NotFoundError)[],
) {
  const input = builder.inputType(`${name.charAt(0).toUpperCase()}${name.slice(1)}Input`, {
    fields: (f) => ({ id: f.id({ required: true }) }),
  });
  builder.mutationField(name, (t) =>
    t.field({
      type: Journey,
      description,
      args: { input: t.arg({ type: input, required: true }) },
      errors: { types: [...COMMON_ERRORS, ...errors] },
      resolve: async (_, args, ctx) => unwrap(await services(ctx)[name](ctx.request, { id: String(args.input.id) })),
    }),
  );
}

journeyMove('deleteJourney', 'Deletes a draft or an archived journey, with its versions and runs (journey:admin)', [
  NotFoundError,
  JourneyTransitionError,
]);
journeyMove(
  'publishJourney',
  'Snapshots the draft as the next version, which new runs enter; runs in progress stay on theirs',
  [NotFoundError, JourneyValidationError, JourneyTransitionError],
);
journeyMove('pauseJourney', 'Runs hold at their step and nobody enters; timers keep their due time', [
  NotFoundError,
  JourneyTransitionError,
]);
journeyMove('resumeJourney', 'Runs go on; what fell due while paused runs first', [
  NotFoundError,
  JourneyTransitionError,
]);
journeyMove('archiveJourney', 'Stops the journey for good: nobody enters, and runs in progress exit', [
  NotFoundError,
  JourneyTransitionError,
]);
