import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { TemplateRow } from '../../app/templates.ts';
import { TemplateNameTakenError, TemplateSyntaxError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';
import { ChannelEnum } from './channel.ts';

const CategoryEnum = builder.enumType('TemplateCategory', { values: ['MARKETING', 'TRANSACTIONAL'] as const });

const Template = builder.objectRef<TemplateRow>('Template').implement({
  description: 'A message template. The source is what was saved; sends render from its compiled form.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    channel: t.field({ type: ChannelEnum, resolve: (r) => r.channel.toUpperCase() as never }),
    category: t.field({ type: CategoryEnum, resolve: (r) => r.category.toUpperCase() as never }),
    source: t.field({ type: 'JSON', resolve: (r) => r.source }),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('template', (t) =>
  t.field({
    type: Template,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => orThrow(await services(ctx).getTemplate(ctx.request, String(id))),
  }),
);

builder.queryField('templates', (t) =>
  t.connection(
    {
      type: Template,
      args: { channel: t.arg({ type: ChannelEnum }) },
      resolve: async (_, args, ctx) =>
        orThrow(
          await services(ctx).listTemplates(
            ctx.request,
            { channel: args.channel?.toLowerCase() ?? null },
            pageWindow(args),
          ),
        ),
    },
    connectionWithTotalCount('TemplateConnection'),
  ),
);

builder.mutationField('createTemplate', (t) =>
  t.field({
    type: Template,
    args: {
      input: t.arg({
        type: builder.inputType('CreateTemplateInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            channel: f.field({ type: ChannelEnum, required: true }),
            category: f.field({ type: CategoryEnum, description: 'MARKETING when not given' }),
            source: f.field({
              type: 'JSON',
              required: true,
              description:
                'email: {mjml | html, subject, preheader?, text?, locales?, fromName?, fromAddress?, replyTo?}; ' +
                'sms: {body}; push: {title, body, data?, imageUrl?}; webhook: {method, urlTemplate, headers?, bodyTemplate?}',
            }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, TemplateSyntaxError, TemplateNameTakenError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).createTemplate(ctx.request, {
          name: input.name,
          channel: input.channel.toLowerCase() as 'email',
          ...(input.category ? { category: input.category.toLowerCase() as 'marketing' } : {}),
          source: input.source as Record<string, unknown>,
        }),
      ),
  }),
);

builder.mutationField('updateTemplate', (t) =>
  t.field({
    type: Template,
    args: {
      input: t.arg({
        type: builder.inputType('UpdateTemplateInput', {
          fields: (f) => ({
            id: f.id({ required: true }),
            name: f.string(),
            category: f.field({ type: CategoryEnum }),
            source: f.field({ type: 'JSON' }),
          }),
        }),
        required: true,
      }),
    },
    errors: { types: [...COMMON_ERRORS, TemplateSyntaxError, TemplateNameTakenError, NotFoundError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).updateTemplate(ctx.request, {
          id: String(input.id),
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.category ? { category: input.category.toLowerCase() as 'marketing' } : {}),
          ...(input.source != null ? { source: input.source as Record<string, unknown> } : {}),
        }),
      ),
  }),
);

builder.mutationField('deleteTemplate', (t) =>
  t.field({
    type: Template,
    args: { id: t.arg.id({ required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, { id }, ctx) => unwrap(await services(ctx).deleteTemplate(ctx.request, String(id))),
  }),
);
