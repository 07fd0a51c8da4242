// ContactImport: a CSV import of contacts, its progress and the rows it rejected.
import { unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, orThrow } from '@mauntic/platform';
import { GraphQLError } from 'graphql';
import { type ContactImportErrorRow, type ContactImportRow, importPercent } from '../../app/import-contacts.ts';
import { builder, services } from '../builder.ts';

const ImportStatusEnum = builder.enumType('ContactImportStatus', {
  values: ['QUEUED', 'RUNNING', 'COMPLETED', 'FAILED'] as const,
});

const ImportRowError = builder.objectRef<ContactImportErrorRow>('ContactImportRowError').implement({
  description: 'A row the import rejected',
  fields: (t) => ({
    row: t.exposeInt('rowNumber', { description: '1 for the first data row after the header' }),
    messages: t.exposeStringList('messages'),
    raw: t.exposeString('raw', { description: 'The row as it was in the file (cut after 10,000 characters)' }),
  }),
});

const MAX_PAGE = 100;

export const ContactImport = builder.objectRef<ContactImportRow>('ContactImport').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: ImportStatusEnum, resolve: (i) => i.status.toUpperCase() as 'QUEUED' }),
    mapping: t.field({ type: 'JSON', resolve: (i) => i.mapping }),
    tags: t.exposeStringList('tags'),
    percent: t.float({ description: 'Share of the file read, 0 to 100', resolve: importPercent }),
    rowsDone: t.exposeInt('rowsDone', { description: 'Rows imported (created or updated)' }),
    rowsFailed: t.exposeInt('rowsFailed', { description: 'Rows rejected; see errors' }),
    rowsCreated: t.exposeInt('rowsCreated'),
    rowsUpdated: t.exposeInt('rowsUpdated'),
    error: t.exposeString('error', { nullable: true, description: 'Why the whole import failed, if it did' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    errors: t.connection(
      {
        type: ImportRowError,
        description: 'Rejected rows, in row order',
        resolve: async (i, args, ctx) => {
          if (args.last != null || args.before != null)
            throw new GraphQLError('Only forward paging (first/after) is supported', {
              extensions: { code: 'BAD_USER_INPUT' },
            });
          const limit = args.first ?? 20;
          const after = args.after == null ? 0 : Number(Buffer.from(args.after, 'base64url').toString('utf8'));
          if (!Number.isInteger(limit) || limit < 0 || limit > MAX_PAGE || !Number.isInteger(after))
            throw new GraphQLError(`first must be between 0 and ${MAX_PAGE}, after a cursor from this connection`, {
              extensions: { code: 'BAD_USER_INPUT' },
            });
          const rows = await services(ctx).importErrors(i.organizationId, i.id, after, limit + 1);
          const edges = rows.slice(0, limit).map((node) => ({
            cursor: Buffer.from(String(node.rowNumber)).toString('base64url'),
            node,
          }));
          return {
            edges,
            pageInfo: {
              hasNextPage: rows.length > limit,
              hasPreviousPage: after > 0,
              startCursor: edges[0]?.cursor ?? null,
              endCursor: edges.at(-1)?.cursor ?? null,
            },
          };
        },
      },
      { name: 'ContactImportErrorConnection' },
    ),
    errorReportCsv: t.string({
      description: 'The rejected rows as CSV: row, messages, raw',
      resolve: (i, _, ctx) => services(ctx).importErrorReportCsv(i.organizationId, i.id),
    }),
  }),
});

builder.queryField('contactImport', (t) =>
  t.field({
    type: ContactImport,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getContactImport(ctx.request, String(id))),
  }),
);

const StartContactImportInput = builder.inputType('StartContactImportInput', {
  fields: (t) => ({
    csv: t.string({ required: true, description: 'The file, with a header row' }),
    mapping: t.field({
      type: 'JSON',
      required: true,
      description:
        'CSV column -> email, firstName, lastName, phone, timezone, locale, ownerId, stageId, points or fields.<key>',
    }),
    tags: t.stringList({ description: 'Added to every imported contact' }),
  }),
});

builder.mutationField('startContactImport', (t) =>
  t.field({
    type: ContactImport,
    description: 'Queues a CSV import (upsert by email); follow it with contactImport',
    args: { input: t.arg({ type: StartContactImportInput, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).startContactImport(ctx.request, {
          csv: input.csv,
          mapping: input.mapping,
          tags: input.tags ?? [],
        }),
      ),
  }),
);
