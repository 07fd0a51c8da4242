import { ROLES, type Role } from '@mauntic/kernel';
import { orThrow } from '@mauntic/platform';
import { builder, services } from '../builder.ts';

export interface UserShape {
  id: string;
  email: string;
  name: string;
  createdAt: Date;
}

export interface OrganizationShape {
  id: string;
  name: string;
  slug: string;
  createdAt: Date;
}

export const RoleEnum = builder.enumType('Role', {
  values: Object.fromEntries(ROLES.map((r) => [r.toUpperCase(), { value: r }])) as Record<
    Uppercase<Role>,
    { value: Role }
  >,
});

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

export const Organization = builder.objectRef<OrganizationShape>('Organization').implement({
  description: 'A tenant: every record in Mauntic belongs to one organization.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.asEntity(Organization, {
  key: builder.selection<{ id: string }>('id'),
  resolveReference: async (ref, ctx) => orThrow(await services(ctx).findOrganization(ctx.request, ref.id)),
});
