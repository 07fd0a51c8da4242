import { orThrow } from '@mauntic/platform';
import type { TemplatePreview } from '../../app/templates.ts';
import type { SpamReport, SpamRule } from '../../providers/rspamd.ts';
import { builder, services } from '../builder.ts';

const Rule = builder.objectRef<SpamRule>('SpamRule').implement({
  description: 'A spam-checker rule that moved the score',
  fields: (t) => ({
    name: t.exposeString('name'),
    score: t.exposeFloat('score'),
    description: t.exposeString('description', { nullable: true }),
  }),
});

const Report = builder.objectRef<SpamReport>('SpamReport').implement({
  description: 'How the spam checker (Rspamd) scores the email as it would leave',
  fields: (t) => ({
    score: t.exposeFloat('score'),
    requiredScore: t.exposeFloat('requiredScore', { description: 'The score at which it would be rejected' }),
    action: t.exposeString('action', {
      description: 'no action, greylist, add header, rewrite subject, soft reject or reject',
    }),
    rules: t.field({ type: [Rule], resolve: (r) => r.rules, description: 'Largest effect first' }),
  }),
});

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
    spam: t.field({
      type: Report,
      nullable: true,
      description:
        'Email only: the spam score, scored when asked for; null when no spam checker is configured (DELIVERY_RSPAMD_URL)',
      resolve: async (preview, _args, ctx) => orThrow(await services(ctx).scorePreview(ctx.request, preview)),
    }),
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
