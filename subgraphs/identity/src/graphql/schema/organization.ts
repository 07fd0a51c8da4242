import { orThrow } from '@mauntic/platform';
import { builder, services } from '../builder.ts';

export interface OrganizationShape {
  id: string;
  name: string;
  slug: string;
  createdAt: Date;
}

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
