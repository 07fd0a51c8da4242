import { orThrow } from '@mauntic/platform';
import type { TemplatePreview } from '../../app/templates.ts';
import { builder, services } from '../builder.ts';

const Preview = builder.objectRef<TemplatePreview>('TemplatePreview').implement({
  fields: (t) => ({
    subject: t.exposeString('subject', { nullable: true }),
    html: t.exposeString('html', { nullable: true }),
    text: t.exposeString('text', { nullable: true, description: 'Text part, SMS text, push body or webhook body' }),
    smsEncoding: t.exposeString('smsEncoding', { nullable: true, description: 'GSM-7 or UCS-2' }),
    smsSegments: t.exposeInt('smsSegments', { nullable: true }),
    title: t.exposeString('title', { nullable: true }),
    data: t.field({ type: 'JSON', nullable: true, resolve: (p) => p.data }),
    url: t.exposeString('url', { nullable: true }),
    method: t.exposeString('method', { nullable: true }),
    locale: t.exposeString('locale', { nullable: true, description: 'The locale variant used' }),
  }),
});

builder.queryField('previewTemplate', (t) =>
  t.field({
    type: Preview,
    args: {
      templateId: t.arg.id({ required: true }),
      contactId: t.arg.id({ description: 'A sample contact when not given' }),
      context: t.arg({ type: 'JSON' }),
      locale: t.arg.string(),
    },
    resolve: async (_, args, ctx) =>
      orThrow(
        await services(ctx).previewTemplate(ctx.request, {
          templateId: String(args.templateId),
          contactId: args.contactId ? String(args.contactId) : null,
          context: (args.context ?? {}) as Record<string, unknown>,
          ...(args.locale !== undefined ? { locale: args.locale } : {}),
        }),
      ),
  }),
);
