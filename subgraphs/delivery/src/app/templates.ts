// Message templates for every channel. Saving compiles once (MJML to HTML, Handlebars precompiled,
// links numbered for tracking) and keeps both the source and the compiled form; a syntax error
// comes back as a TemplateSyntaxError with its field, line and column, and nothing is saved.
// Creating, changing and deleting one publishes it (delivery.template.*), for the contexts that
// name templates (a journey's send steps).
import { randomUUID } from 'node:crypto';
import {
  authorize,
  catalogue,
  createEvent,
  type DomainError,
  fail,
  NotFoundError,
  newId,
  ok,
  type RequestContext,
  type Result,
  ValidationError,
  validateInput,
} from '@mauntic/kernel';
import { appendEvents, type Executor, type PageWindow, pageOfOrganization } from '@mauntic/platform';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { z } from 'zod';
import { contacts, outbox, templates } from '../db/schema.ts';
import { SpamCheckUnavailableError, TemplateNameTakenError, type TemplateSyntaxError } from '../domain/errors.ts';
import {
  compileEmailTemplate,
  compilePushTemplate,
  compileSmsTemplate,
  compileWebhookTemplate,
  type RenderVars,
  renderEmail,
  renderPush,
  renderSms,
  renderWebhook,
} from '../domain/templates/index.ts';
import { buildRawMessage } from '../providers/mime.ts';
import type { SpamReport } from '../providers/rspamd.ts';
import type { DeliveryDeps } from './deps.ts';
import { contactVars } from './render-message.ts';
import { settingsOf } from './settings.ts';

export type TemplateRow = typeof templates.$inferSelect;
export type TemplateChannel = 'email' | 'sms' | 'push' | 'webhook';

const emailContent = z.object({
  mjml: z.string().max(1_000_000).optional(),
  html: z.string().max(1_000_000).optional(),
  subject: z.string().max(998),
  preheader: z.string().max(500).optional(),
  text: z.string().max(1_000_000).optional(),
});

const SOURCES = {
  email: emailContent
    .extend({
      locales: z.record(z.string(), emailContent).optional(),
      fromName: z.string().max(200).optional(),
      fromAddress: z.email().optional(),
      replyTo: z.email().optional(),
    })
    .refine((v) => Boolean(v.mjml) !== Boolean(v.html), {
      message: 'give exactly one of mjml and html',
      path: ['mjml'],
    }),
  sms: z.object({ body: z.string().min(1).max(10_000) }),
  push: z.object({
    title: z.string().max(500),
    body: z.string().max(4000),
    data: z.record(z.string(), z.string()).optional(),
    imageUrl: z.string().max(2000).optional(),
  }),
  webhook: z.object({
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']),
    urlTemplate: z.string().min(1).max(4000),
    headers: z.record(z.string(), z.string()).optional(),
    bodyTemplate: z.string().max(1_000_000).nullable().optional(),
  }),
} as const;

export const templateInput = z.object({
  name: z.string().trim().min(1).max(200),
  channel: z.enum(['email', 'sms', 'push', 'webhook']),
  /** marketing messages carry unsubscribe headers and respect unsubscribes, caps and quiet hours. */
  category: z.enum(['marketing', 'transactional']).default('marketing'),
  source: z.record(z.string(), z.unknown()),
});

export const templateUpdate = z.object({
  id: z.uuid(),
  name: z.string().trim().min(1).max(200).optional(),
  category: z.enum(['marketing', 'transactional']).optional(),
  source: z.record(z.string(), z.unknown()).optional(),
});

/** Validates and compiles a template's source; the compiled form is what the engine renders. */
export async function compileSource(
  channel: TemplateChannel,
  raw: unknown,
): Promise<
  Result<{ source: Record<string, unknown>; compiled: Record<string, unknown> }, ValidationError | TemplateSyntaxError>
> {
  const parsed = validateInput(SOURCES[channel] as z.ZodType<Record<string, unknown>>, raw, ['input', 'source']);
  if (!parsed.ok) return parsed;
  const source = parsed.value;
  const compiled =
    channel === 'email'
      ? await compileEmailTemplate(source as z.output<(typeof SOURCES)['email']>)
      : channel === 'sms'
        ? compileSmsTemplate((source as z.output<(typeof SOURCES)['sms']>).body)
        : channel === 'push'
          ? compilePushTemplate(source as z.output<(typeof SOURCES)['push']>)
          : compileWebhookTemplate(source as z.output<(typeof SOURCES)['webhook']>);
  if (!compiled.ok) {
    const error = compiled.error;
    if (error instanceof ValidationError)
      return fail(new ValidationError(error.issues.map((i) => ({ ...i, path: ['input', 'source', ...i.path] }))));
    return fail(error);
  }
  const sender =
    channel === 'email'
      ? {
          fromName: (source as { fromName?: string }).fromName ?? null,
          fromAddress: (source as { fromAddress?: string }).fromAddress ?? null,
          replyTo: (source as { replyTo?: string }).replyTo ?? null,
        }
      : {};
  return ok({ source, compiled: { ...(compiled.value as unknown as Record<string, unknown>), ...sender } });
}

async function nameTaken(deps: DeliveryDeps, org: string, name: string, except?: string) {
  const [row] = await deps.handle.db
    .select({ id: templates.id })
    .from(templates)
    .where(
      and(
        eq(templates.organizationId, org),
        eq(templates.name, name),
        except ? sql`${templates.id} <> ${except}` : undefined,
      ),
    );
  return Boolean(row);
}

export async function createTemplate(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof templateInput>) {
  const access = authorize(ctx, 'delivery:write', templateInput, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const compiled = await compileSource(input.channel, input.source);
  if (!compiled.ok) return compiled;
  if (await nameTaken(deps, organizationId, input.name)) return fail(new TemplateNameTakenError(input.name));
  return deps.handle.db.transaction(async (tx): Promise<Result<TemplateRow, TemplateNameTakenError>> => {
    const [row] = await tx
      .insert(templates)
      .values({
        id: newId(),
        organizationId,
        name: input.name,
        channel: input.channel,
        category: input.category,
        source: compiled.value.source,
        compiled: compiled.value.compiled,
      })
      .onConflictDoNothing()
      .returning();
    if (!row) return fail(new TemplateNameTakenError(input.name));
    await publishTemplate(tx, catalogue.delivery.templateCreated, row, ctx.correlationId);
    return ok(row);
  });
}

/** A template's created, updated or deleted event, in the transaction of the change. */
async function publishTemplate(
  tx: Executor,
  def: (typeof catalogue.delivery)['templateCreated' | 'templateUpdated' | 'templateDeleted'],
  row: TemplateRow,
  correlationId: string,
) {
  await appendEvents(tx, outbox, [
    createEvent(def, {
      organizationId: row.organizationId,
      subjectId: row.id,
      correlationId,
      data: { channel: row.channel as TemplateChannel, name: row.name },
    }),
  ]);
}

export async function updateTemplate(deps: DeliveryDeps, ctx: RequestContext, raw: z.input<typeof templateUpdate>) {
  const access = authorize(ctx, 'delivery:write', templateUpdate, raw);
  if (!access.ok) return access;
  const { organizationId, input } = access.value;
  const [current] = await deps.handle.db
    .select()
    .from(templates)
    .where(and(eq(templates.organizationId, organizationId), eq(templates.id, input.id)));
  if (!current) return fail(new NotFoundError('Template', input.id));
  const values: Partial<TemplateRow> = { updatedAt: new Date() };
  if (input.name !== undefined && input.name !== current.name) {
    if (await nameTaken(deps, organizationId, input.name, current.id))
      return fail(new TemplateNameTakenError(input.name));
    values.name = input.name;
  }
  if (input.category) values.category = input.category;
  if (input.source) {
    const compiled = await compileSource(current.channel as TemplateChannel, input.source);
    if (!compiled.ok) return compiled;
    values.source = compiled.value.source;
    values.compiled = compiled.value.compiled;
  }
  return deps.handle.db.transaction(async (tx): Promise<Result<TemplateRow, NotFoundError>> => {
    const [row] = await tx
      .update(templates)
      .set({ ...values, version: sql`${templates.version} + 1` })
      .where(and(eq(templates.organizationId, organizationId), eq(templates.id, current.id)))
      .returning();
    // Deleted since it was read.
    if (!row) return fail(new NotFoundError('Template', input.id));
    await publishTemplate(tx, catalogue.delivery.templateUpdated, row, ctx.correlationId);
    return ok(row);
  });
}

export async function deleteTemplate(deps: DeliveryDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'delivery:write');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  return deps.handle.db.transaction(async (tx): Promise<Result<TemplateRow, NotFoundError>> => {
    const [row] = await tx
      .delete(templates)
      .where(and(eq(templates.organizationId, organizationId), eq(templates.id, id)))
      .returning();
    if (!row) return fail(new NotFoundError('Template', id));
    await publishTemplate(tx, catalogue.delivery.templateDeleted, row, ctx.correlationId);
    return ok(row);
  });
}

/** One of the caller's templates; null when it has none with that id. */
export async function getTemplate(deps: DeliveryDeps, ctx: RequestContext, id: string) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const [row] = await deps.handle.db
    .select()
    .from(templates)
    .where(and(eq(templates.organizationId, organizationId), eq(templates.id, id)));
  return ok(row ?? null);
}

export async function listTemplates(
  deps: DeliveryDeps,
  ctx: RequestContext,
  filter: { channel?: string | null },
  window: PageWindow,
) {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  return ok(
    await pageOfOrganization(
      deps.handle.db,
      templates,
      access.value.organizationId,
      window,
      filter.channel ? eq(templates.channel, filter.channel) : undefined,
    ),
  );
}

export interface TemplatePreview {
  subject: string | null;
  html: string | null;
  text: string | null;
  /** SMS: encoding and segment count of the rendered text. */
  smsEncoding: string | null;
  smsSegments: number | null;
  /** Push: title and data; webhook: the request as it would be sent. */
  title: string | null;
  data: Record<string, string> | null;
  url: string | null;
  method: string | null;
  locale: string | null;
}

/** A sample contact for previews when none is chosen. */
const SAMPLE: RenderVars['contact'] = {
  id: '00000000-0000-7000-8000-000000000000',
  email: 'jane.doe@example.com',
  firstName: 'Jane',
  lastName: 'Doe',
  phone: '+14155550100',
  locale: null,
  timezone: 'UTC',
  fields: {},
};

/** Renders a template for a chosen contact (or a sample one) without sending anything. */
export async function previewTemplate(
  deps: DeliveryDeps,
  ctx: RequestContext,
  input: { templateId: string; contactId?: string | null; context?: Record<string, unknown>; locale?: string | null },
): Promise<Result<TemplatePreview, DomainError>> {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  const { organizationId } = access.value;
  const [template] = await deps.handle.db
    .select()
    .from(templates)
    .where(and(eq(templates.organizationId, organizationId), eq(templates.id, input.templateId)));
  if (!template) return fail(new NotFoundError('Template', input.templateId));
  const contact = input.contactId ? await previewContact(deps, organizationId, input.contactId) : ok(SAMPLE);
  if (!contact.ok) return contact;
  const vars: RenderVars = {
    contact: contact.value,
    context: input.context ?? {},
    message: { id: 'preview' },
    unsubscribeUrl: `${deps.publicBaseUrl}/t/unsubscribe`,
    preferencesUrl: `${deps.publicBaseUrl}/t/preferences`,
  };
  return renderPreview(template, vars, input.locale);
}

/**
 * How the spam checker scores a previewed email as it would leave (from the organization's
 * default sender, to the preview's contact); null when no checker is configured or the preview
 * is not an email.
 */
export async function scorePreview(
  deps: DeliveryDeps,
  ctx: RequestContext,
  preview: TemplatePreview,
): Promise<Result<SpamReport | null, DomainError>> {
  const access = authorize(ctx, 'delivery:read');
  if (!access.ok) return access;
  if (!deps.spamChecker || preview.subject === null || preview.html === null) return ok(null);
  const settings = await settingsOf(deps, access.value.organizationId);
  const from = settings.defaultFromAddress ?? 'preview@example.com';
  const to = SAMPLE.email!;
  const raw = buildRawMessage(
    {
      messageId: randomUUID(),
      from: { address: from },
      to,
      subject: preview.subject,
      html: preview.html,
      text: preview.text ?? '',
      headers: {},
    },
    deps.now(),
  );
  try {
    return ok(await deps.spamChecker.check(raw, { from, to }));
  } catch (error) {
    deps.logger.warn({ err: error }, 'spam check failed');
    return fail(new SpamCheckUnavailableError());
  }
}

async function previewContact(deps: DeliveryDeps, organizationId: string, contactId: string) {
  const [row] = await deps.handle.db
    .select()
    .from(contacts)
    .where(and(eq(contacts.organizationId, organizationId), eq(contacts.id, contactId), isNull(contacts.deletedAt)));
  return row ? ok(contactVars(row)) : fail(new NotFoundError('Contact', contactId));
}

const EMPTY_PREVIEW: TemplatePreview = {
  subject: null,
  html: null,
  text: null,
  smsEncoding: null,
  smsSegments: null,
  title: null,
  data: null,
  url: null,
  method: null,
  locale: null,
};

function renderPreview(
  template: TemplateRow,
  vars: RenderVars,
  locale: string | null | undefined,
): Result<TemplatePreview, DomainError> {
  const compiled = template.compiled as never;
  switch (template.channel) {
    case 'email': {
      const r = renderEmail(compiled, vars, locale !== undefined ? { locale } : {});
      return ok({ ...EMPTY_PREVIEW, subject: r.subject, html: r.html, text: r.text, locale: r.locale });
    }
    case 'sms': {
      const r = renderSms(compiled, vars);
      return ok({ ...EMPTY_PREVIEW, text: r.body, smsEncoding: r.encoding, smsSegments: r.segments });
    }
    case 'push': {
      const r = renderPush(compiled, vars);
      return ok({ ...EMPTY_PREVIEW, title: r.title, text: r.body, data: r.data });
    }
    default: {
      const r = renderWebhook(compiled, vars);
      if (!r.ok) return r;
      return ok({ ...EMPTY_PREVIEW, url: r.value.url, method: r.value.method, text: r.value.body });
    }
  }
}
