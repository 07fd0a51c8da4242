import { orThrow } from '@mauntic/platform';
import { builder, services } from '../builder.ts';

export interface UserShape {
  id: string;
  email: string;
  name: string;
  createdAt: Date;
}

export const User = builder.objectRef<UserShape>('User').implement({
  description: 'A person who can sign in. Visible to members of the same organization.',
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.asEntity(User, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: async (ref, ctx) => orThrow(await services(ctx).findMemberUser(ctx.request, ref.id)),
});
