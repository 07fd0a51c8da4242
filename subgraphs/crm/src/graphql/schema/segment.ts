// Segment: a set of contacts, by filter (dynamic, kept current) or by hand (static), and its members.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import { isBuilding, type SegmentRow } from '../../app/segment-membership.ts';
import { builder, services } from '../builder.ts';
import { Contact } from './contact.ts';

const SegmentKindEnum = builder.enumType('SegmentKind', { values: ['DYNAMIC', 'STATIC'] as const });

export const Segment = builder.objectRef<SegmentRow>('Segment').implement({
  description: 'A set of contacts: by filter (dynamic, kept current) or by hand (static)',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    kind: t.field({ type: SegmentKindEnum, resolve: (s) => (s.kind === 'dynamic' ? 'DYNAMIC' : 'STATIC') }),
    filter: t.field({ type: 'JSON', nullable: true, resolve: (s) => s.filter ?? null }),
    building: t.boolean({
      description: 'A dynamic segment whose members are being counted (just created, or its filter changed)',
      resolve: isBuilding,
    }),
    contactCount: t.int({
      nullable: true,
      description: 'Exact, kept with the membership; null while the segment is building',
      resolve: (s) => (isBuilding(s) ? null : s.memberCount),
    }),
    categoryId: t.exposeID('categoryId', { nullable: true, description: 'The category it is filed under' }),
    rebuiltAt: t.expose('rebuiltAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    contacts: t.connection(
      {
        type: Contact,
        resolve: (s, args, ctx) => services(ctx).segmentMembers(s.organizationId, s.id, pageWindow(args)),
      },
      connectionWithTotalCount('SegmentContactConnection'),
    ),
  }),
});

builder.queryField('segment', (t) =>
  t.field({
    type: Segment,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getSegment(ctx.request, String(id))),
  }),
);

builder.queryField('segments', (t) =>
  t.connection(
    {
      type: Segment,
      args: { categoryId: t.arg.id({ description: 'Only the segments filed under this category' }) },
      resolve: async (_, args, ctx) =>
        orThrow(
          await services(ctx).listSegments(
            ctx.request,
            pageWindow(args),
            args.categoryId ? { categoryId: String(args.categoryId) } : {},
          ),
        ),
    },
    connectionWithTotalCount('SegmentConnection'),
  ),
);

const SegmentPreview = builder.objectRef<{ count: number; contacts: unknown[] }>('SegmentPreview').implement({
  fields: (t) => ({
    count: t.exposeInt('count'),
    contacts: t.field({ type: [Contact], resolve: (p) => p.contacts as never }),
  }),
});

builder.queryField('previewSegment', (t) =>
  t.field({
    type: SegmentPreview,
    description: 'How many contacts a filter matches, and the first of them, without saving it',
    args: { filter: t.arg({ type: 'JSON', required: true }), first: t.arg.int({ defaultValue: 20 }) },
    resolve: async (_, { filter, first }, ctx) =>
      orThrow(await services(ctx).previewSegment(ctx.request, filter, first ?? 20)),
  }),
);

builder.mutationField('createSegment', (t) =>
  t.field({
    type: Segment,
    description: 'A dynamic segment is built in the background: it answers building, and its contactCount once built',
    args: {
      input: t.arg({
        type: builder.inputType('CreateSegmentInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            kind: f.field({ type: SegmentKindEnum, defaultValue: 'DYNAMIC' }),
            filter: f.field({ type: 'JSON', description: 'Required for dynamic segments' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createSegment(ctx.request, {
          name: input.name,
          kind: input.kind === 'STATIC' ? 'static' : 'dynamic',
          filter: input.filter ?? undefined,
        }),
      ),
  }),
);

builder.mutationField('updateSegment', (t) =>
  t.field({
    type: Segment,
    args: {
      input: t.arg({
        type: builder.inputType('UpdateSegmentInput', {
          fields: (f) => ({ id: f.id({ required: true }), name: f.string(), filter: f.field({ type: 'JSON' }) }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).updateSegment(ctx.request, String(input.id), {
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.filter !== undefined && input.filter !== null ? { filter: input.filter } : {}),
        }),
      ),
  }),
);

const IdInput = (name: string) => builder.inputType(name, { fields: (f) => ({ id: f.id({ required: true }) }) });

builder.mutationField('deleteSegment', (t) =>
  t.field({
    type: Segment,
    args: { input: t.arg({ type: IdInput('DeleteSegmentInput'), required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).deleteSegment(ctx.request, String(input.id))),
  }),
);

const RebuildStats = builder
  .objectRef<{ added: number; removed: number; memberCount: number; tookMs: number }>('SegmentRebuild')
  .implement({
    fields: (t) => ({
      added: t.exposeInt('added'),
      removed: t.exposeInt('removed'),
      contactCount: t.int({ resolve: (r) => r.memberCount }),
      tookMs: t.exposeFloat('tookMs'),
    }),
  });

builder.mutationField('rebuildSegment', (t) =>
  t.field({
    type: RebuildStats,
    description: 'Recomputes a dynamic segment now (it is also kept current as contacts change)',
    args: { input: t.arg({ type: IdInput('RebuildSegmentInput'), required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).rebuildSegment(ctx.request, String(input.id))),
  }),
);

const MembersInput = (name: string) =>
  builder.inputType(name, {
    fields: (f) => ({
      segmentId: f.id({ required: true }),
      contactIds: f.idList({ description: 'These contacts (at most 10,000)' }),
      filter: f.field({ type: 'JSON', description: 'Every contact matching this segment filter' }),
    }),
  });

for (const [field, action] of [
  ['addToSegment', 'add'],
  ['removeFromSegment', 'remove'],
] as const) {
  builder.mutationField(field, (t) =>
    t.field({
      type: Segment,
      description: `${action === 'add' ? 'Adds contacts to' : 'Removes contacts from'} a static segment`,
      args: {
        input: t.arg({ type: MembersInput(`${field.charAt(0).toUpperCase()}${field.slice(1)}Input`), required: true }),
      },
      errors: { types: [...COMMON_ERRORS, NotFoundError] },
      resolve: async (_, { input }, ctx) =>
        unwrap(
          await services(ctx).changeStaticMembers(
            ctx.request,
            String(input.segmentId),
            { contactIds: (input.contactIds ?? []).map(String), filter: input.filter ?? undefined },
            action,
          ),
        ),
    }),
  );
}
