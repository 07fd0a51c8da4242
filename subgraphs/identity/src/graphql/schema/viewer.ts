import { orThrow } from '@mauntic/platform';
import type { Viewer as ViewerShape } from '../../app/viewer.ts';
import { builder, services } from '../builder.ts';
import { Organization } from './organization.ts';
import { RoleEnum } from './role.ts';
import { User } from './user.ts';

const Viewer = builder.objectRef<ViewerShape>('Viewer').implement({
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
      resolve: (c) => c.user,
    }),
    organization: t.field({
      type: Organization,
      resolve: (c) => c.organization!,
    }),
    role: t.field({ type: RoleEnum, nullable: true, resolve: (c) => c.role ?? null }),
    scopes: t.stringList({ resolve: (c) => c.ctx.scopes }),
  }),
});

builder.queryField('me', (t) =>
  t.field({
    type: Viewer,
    resolve: async (_, __, ctx) => orThrow(await services(ctx).viewer(ctx.request)),
  }),
);
