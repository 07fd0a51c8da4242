import type { Caller } from '@mauntic/kernel';
import { orThrow } from '@mauntic/platform';
import { builder, services } from '../builder.ts';
import { Organization } from './organization.ts';
import { RoleEnum } from './role.ts';
import { User } from './user.ts';

const Viewer = builder.objectRef<Caller>('Viewer').implement({
  description: 'Who is calling: a signed-in user or an API key, and for which organization.',
  fields: (t) => ({
    actorType: t.string({ description: 'user or api_key', resolve: (c) => c.ctx.actor.type }),
    apiKeyId: t.id({
      nullable: true,
      resolve: (c) => (c.ctx.actor.type === 'api_key' ? c.ctx.actor.id : null),
    }),
    user: t.field({
      type: User,
      nullable: true,
      description: 'The signed-in user; for an API key, the user who created it',
      resolve: async (c, _, ctx) => (c.userId ? orThrow(await services(ctx).findMemberUser(c.ctx, c.userId)) : null),
    }),
    organization: t.field({
      type: Organization,
      resolve: async (c, _, ctx) => orThrow(await services(ctx).findOrganization(c.ctx, c.organizationId))!,
    }),
    role: t.field({ type: RoleEnum, nullable: true, resolve: (c) => c.role ?? null }),
    scopes: t.stringList({ resolve: (c) => c.ctx.scopes }),
  }),
});

builder.queryField('me', (t) =>
  t.field({
    type: Viewer,
    resolve: (_, __, ctx) => orThrow(services(ctx).viewer(ctx.request)),
  }),
);
