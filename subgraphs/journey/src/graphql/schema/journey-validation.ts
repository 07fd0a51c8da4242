// JourneyValidation: a definition checked against every publishing rule, without publishing.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import type { JourneyValidation as Validation } from '../../app/journeys.ts';
import { builder, services } from '../builder.ts';
import { JourneyValidationIssue } from './errors.ts';

const JourneyValidation = builder.objectRef<Validation>('JourneyValidation').implement({
  fields: (t) => ({
    valid: t.exposeBoolean('valid', { description: 'Whether it could be published as it is' }),
    issues: t.field({ type: [JourneyValidationIssue], resolve: (v) => v.issues }),
  }),
});

builder.mutationField('validateJourney', (t) =>
  t.field({
    type: JourneyValidation,
    description: "Checks the journey's draft, or the definition given, as publishing would; changes nothing",
    args: {
      input: t.arg({
        type: builder.inputType('ValidateJourneyInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            definition: f.field({ type: 'JSON', description: 'Checked instead of the saved draft' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).validateJourney(ctx.request, {
          id: String(input.id),
          ...(input.definition != null ? { definition: input.definition } : {}),
        }),
      ),
  }),
);
