// Enrollment: contacts entered into a journey by API, one contact or a whole segment at once.
import { ConflictError, NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import { builder, services } from '../builder.ts';

const ContactEnrollment = builder
  .objectRef<{ journeyId: string; contactId: string; runId: string | null }>('ContactEnrollment')
  .implement({
    fields: (t) => ({
      journeyId: t.exposeID('journeyId'),
      contactId: t.exposeID('contactId'),
      runId: t.exposeID('runId', {
        nullable: true,
        description: "The run that started; null when the journey's entry rule kept the contact out",
      }),
    }),
  });

const SegmentEnrollment = builder
  .objectRef<{ journeyId: string; segmentId: string; entered: number }>('SegmentEnrollment')
  .implement({
    fields: (t) => ({
      journeyId: t.exposeID('journeyId'),
      segmentId: t.exposeID('segmentId'),
      entered: t.exposeInt('entered', { description: 'Members that entered (the entry rule keeps others out)' }),
    }),
  });

const ERRORS = { types: [...COMMON_ERRORS, NotFoundError, ConflictError] };

builder.mutationField('enrollContact', (t) =>
  t.field({
    type: ContactEnrollment,
    description: 'Enters a contact into an active journey with an api entry trigger, by its entry rule',
    args: {
      input: t.arg({
        type: builder.inputType('EnrollContactInput', {
          fields: (f) => ({
            journeyId: f.id({ required: true }),
            contactId: f.id({ required: true }),
            data: f.field({ type: 'JSON', description: 'The run data templates read' }),
          }),
        }),
        required: true,
      }),
    },
    errors: ERRORS,
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).enrollContact(ctx.request, {
          journeyId: String(input.journeyId),
          contactId: String(input.contactId),
          ...(input.data != null ? { data: input.data as Record<string, unknown> } : {}),
        }),
      ),
  }),
);

builder.mutationField('enrollSegment', (t) =>
  t.field({
    type: SegmentEnrollment,
    description: 'Enters every current member of a segment into an active journey with an api entry trigger',
    args: {
      input: t.arg({
        type: builder.inputType('EnrollSegmentInput', {
          fields: (f) => ({
            journeyId: f.id({ required: true }),
            segmentId: f.id({ required: true }),
            data: f.field({ type: 'JSON', description: 'The run data templates read' }),
          }),
        }),
        required: true,
      }),
    },
    errors: ERRORS,
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).enrollSegment(ctx.request, {
          journeyId: String(input.journeyId),
          segmentId: String(input.segmentId),
          ...(input.data != null ? { data: input.data as Record<string, unknown> } : {}),
        }),
      ),
  }),
);
