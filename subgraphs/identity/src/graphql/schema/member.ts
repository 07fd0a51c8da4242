import type { Role } from '@mauntic/kernel';
import { connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import { builder, services } from '../builder.ts';
import { RoleEnum } from './role.ts';
import { User } from './user.ts';

const Member = builder.objectRef<{ userId: string; role: Role; joinedAt: Date }>('Member').implement({
  fields: (t) => ({
    user: t.field({
      type: User,
      resolve: async (m, _, ctx) => orThrow(await services(ctx).findMemberUser(ctx.request, m.userId))!,
    }),
    role: t.expose('role', { type: RoleEnum }),
    joinedAt: t.expose('joinedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('members', (t) =>
  t.connection(
    {
      type: Member,
      description: "Members of the caller's organization, newest first",
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listMembers(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('MemberConnection'),
  ),
);
