// Company: an organization contacts work for, with its own custom fields, and a contact's companies.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { CompanyRow } from '../../app/companies.ts';
import { builder, services } from '../builder.ts';
import { loaders } from '../loaders.ts';
import { Contact } from './contact.ts';

const Company = builder.objectRef<CompanyRow & { isPrimary?: boolean }>('Company').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    domain: t.exposeString('domain', { nullable: true }),
    fields: t.field({ type: 'JSON', resolve: (c) => c.fields }),
    isPrimary: t.boolean({
      nullable: true,
      description: "Set when read through a contact's companies",
      resolve: (c) => c.isPrimary ?? null,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

// A contact's companies: the contact was authorized when it was read, so its organization scopes them.
builder.objectFields(Contact, (t) => ({
  companies: t.field({
    type: [Company],
    resolve: (c, _, ctx) => loaders(ctx).companies.load({ organizationId: c.organizationId, contactId: c.id }),
  }),
}));

builder.queryField('company', (t) =>
  t.field({
    type: Company,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getCompany(ctx.request, String(id))),
  }),
);

builder.queryField('companies', (t) =>
  t.connection(
    {
      type: Company,
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listCompanies(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('CompanyConnection'),
  ),
);

const CompanyInput = builder.inputType('CompanyInput', {
  fields: (t) => ({ name: t.string(), domain: t.string(), fields: t.field({ type: 'JSON' }) }),
});

const companyValues = (input: { name?: string | null; domain?: string | null; fields?: unknown }) => ({
  ...(input.name != null ? { name: input.name } : {}),
  ...(input.domain !== undefined ? { domain: input.domain } : {}),
  ...(input.fields != null ? { fields: input.fields as Record<string, unknown> } : {}),
});

builder.mutationField('createCompany', (t) =>
  t.field({
    type: Company,
    args: { input: t.arg({ type: CompanyInput, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).createCompany(ctx.request, companyValues(input))),
  }),
);

builder.mutationField('updateCompany', (t) =>
  t.field({
    type: Company,
    args: {
      input: t.arg({
        type: builder.inputType('UpdateCompanyInput', {
          fields: (f) => ({ id: f.id({ required: true }), set: f.field({ type: CompanyInput, required: true }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(await services(ctx).updateCompany(ctx.request, String(input.id), companyValues(input.set))),
  }),
);

builder.mutationField('deleteCompany', (t) =>
  t.field({
    type: Company,
    description: 'Deletes a company and unlinks its contacts; segments reading companies follow',
    args: {
      input: t.arg({
        type: builder.inputType('DeleteCompanyInput', { fields: (f) => ({ id: f.id({ required: true }) }) }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deleteCompany(ctx.request, String(input.id))),
  }),
);
