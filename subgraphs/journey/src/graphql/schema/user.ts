// A user of the identity context, referenced by id (who published a version).
import { builder } from '../builder.ts';

export const UserRef = builder.externalRef('User', builder.selection<{ id: string }>('id')).implement({
  externalFields: (t) => ({ id: t.id() }),
  fields: () => ({}),
});
