import type { RequestContext } from '@mauntic/kernel';
import { builder, services } from '../builder.ts';
import { Organization, RoleEnum, User } from './user.ts';

const Viewer = builder.objectRef<RequestContext>('Viewer').implement({
  description: 'Who is calling: a signed-in user or an API key, and for which organization.',
  fields: (t) => ({
    actorType: t.string({ description: 'user or api_key', resolve: (c) => c.actor.type }),
    apiKeyId: t.id({
      nullable: true,
      resolve: (c) => (c.actor.type === 'api_key' ? c.actor.id : null),
    }),
    user: t.field({
      type: User,
      nullable: true,
      description: 'The signed-in user; for an API key, the user who created it',
      resolve: (c, _, ctx) =>
        c.actor.type === 'user' || c.actor.type === 'api_key'
          ? services(ctx).findMemberUser(c, c.actor.type === 'user' ? c.actor.id : c.actor.createdBy)
          : null,
    }),
    organization: t.field({
      type: Organization,
      resolve: async (c, _, ctx) => (await services(ctx).findOrganization(c, c.organizationId!))!,
    }),
    role: t.field({ type: RoleEnum, nullable: true, resolve: (c) => c.role ?? null }),
    scopes: t.stringList({ resolve: (c) => c.scopes }),
  }),
});

builder.queryField('me', (t) =>
  t.field({
    type: Viewer,
    authScopes: { member: true },
    resolve: (_, __, ctx) => ctx.request,
  }),
);
