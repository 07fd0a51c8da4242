// JourneyVersion: a published, immutable snapshot of a journey's definition.
import type { JourneyVersionRow } from '../../app/journeys.ts';
import { builder } from '../builder.ts';
import { UserRef } from './user.ts';

export const JourneyVersion = builder.objectRef<JourneyVersionRow>('JourneyVersion').implement({
  description: 'A published version: what its runs walk, never changed once published.',
  fields: (t) => ({
    id: t.exposeID('id'),
    version: t.exposeInt('version', { description: '1, 2, ...' }),
    definition: t.field({
      type: 'JSON',
      description: 'As published, defaults filled in',
      resolve: (v) => v.definition,
    }),
    publishedAt: t.expose('publishedAt', { type: 'DateTime' }),
    publishedBy: t.field({
      type: UserRef,
      nullable: true,
      resolve: (v) => (v.publishedBy ? { id: v.publishedBy } : null),
    }),
  }),
});
