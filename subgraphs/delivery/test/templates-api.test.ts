// Templates through the application layer: syntax errors come back typed, with field, line and
// column, and save nothing; names are per organization; updates recompile; previews render for a
// chosen or a sample contact on every channel; each change is published with its channel and name.
import { parseEvent, unwrap } from '@mauntic/kernel';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateSyntaxError } from '../src/domain/errors.ts';
import { DATABASES, newOrg, openDelivery, seedContact } from './harness.ts';

describe.each(DATABASES)('templates (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  beforeAll(async () => {
    env = await openDelivery(open);
  });
  afterAll(() => env?.close());

  const count = async (organizationId: string) =>
    (
      await env.handle.rows<{ n: number }>(
        sql`select count(*)::int as n from delivery.templates where organization_id = ${organizationId}`,
      )
    )[0]!.n;

  it('publishes each template created, updated and deleted with its channel and name; refusals publish nothing', async () => {
    const ctx = newOrg();
    const s = env.services;
    const sms = unwrap(await s.createTemplate(ctx, { name: 'Code', channel: 'sms', source: { body: 'Your code' } }));
    const hook = unwrap(
      await s.createTemplate(ctx, {
        name: 'CRM hook',
        channel: 'webhook',
        source: { method: 'POST', urlTemplate: 'https://crm.example.com/hooks' },
      }),
    );
    expect((await s.createTemplate(ctx, { name: 'Code', channel: 'sms', source: { body: 'again' } })).ok).toBe(false);
    expect((await s.updateTemplate(ctx, { id: sms.id, source: { body: '{{#if}}' } })).ok).toBe(false);
    unwrap(
      await s.updateTemplate(ctx, { id: sms.id, name: 'Login code', source: { body: 'Your code: {{context.code}}' } }),
    );
    expect((await s.deleteTemplate(newOrg(), hook.id)).ok).toBe(false);
    unwrap(await s.deleteTemplate(ctx, hook.id));

    const rows = await env.handle.rows<{ envelope: unknown }>(
      sql`select envelope from delivery.outbox where organization_id = ${ctx.organizationId}
          and type like 'delivery.template.%' order by seq`,
    );
    expect(rows.map((r) => parseEvent(r.envelope)).map((e) => [e.type, e.subject, e.data])).toEqual([
      ['delivery.template.created', { type: 'template', id: sms.id }, { channel: 'sms', name: 'Code' }],
      ['delivery.template.created', { type: 'template', id: hook.id }, { channel: 'webhook', name: 'CRM hook' }],
      ['delivery.template.updated', { type: 'template', id: sms.id }, { channel: 'sms', name: 'Login code' }],
      ['delivery.template.deleted', { type: 'template', id: hook.id }, { channel: 'webhook', name: 'CRM hook' }],
    ]);
  });

  it('broken MJML or Handlebars comes back as a TemplateSyntaxError with field, line and column; nothing is saved', async () => {
    const ctx = newOrg();
    const mjml = await env.services.createTemplate(ctx, {
      name: 'bad mjml',
      channel: 'email',
      source: {
        mjml: '<mjml><mj-body>\n  <mj-section>\n    <mj-colum>Hi</mj-colum>\n</mj-body></mjml>',
        subject: 'Hi',
      },
    });
    expect(mjml.ok).toBe(false);
    const mjmlError = mjml.ok ? null : mjml.error;
    expect(mjmlError).toBeInstanceOf(TemplateSyntaxError);
    expect(mjmlError).toMatchObject({ field: 'mjml' });
    expect((mjmlError as TemplateSyntaxError).line).toBeGreaterThanOrEqual(2);

    const subject = await env.services.createTemplate(ctx, {
      name: 'bad subject',
      channel: 'email',
      source: { html: '<p>fine</p>', subject: 'Hello\n{{#if contact.firstName}}{{contact.firstName}' },
    });
    expect(subject.ok).toBe(false);
    const subjectError = subject.ok ? null : (subject.error as TemplateSyntaxError);
    expect(subjectError).toBeInstanceOf(TemplateSyntaxError);
    expect(subjectError).toMatchObject({ field: 'subject', line: 2 });
    expect(subjectError!.column).toBeGreaterThan(0);

    const sms = await env.services.createTemplate(ctx, { name: 'bad sms', channel: 'sms', source: { body: 'Hi {{' } });
    expect(sms.ok ? null : sms.error).toMatchObject({ field: 'body' });
    expect(await count(ctx.organizationId)).toBe(0);
  });

  it('a name is taken once per organization', async () => {
    const ctx = newOrg();
    const input = { name: 'welcome', channel: 'sms' as const, source: { body: 'Hi' } };
    unwrap(await env.services.createTemplate(ctx, input));
    const again = await env.services.createTemplate(ctx, input);
    expect(again.ok ? null : again.error.code).toBe('TEMPLATE_NAME_TAKEN');
    unwrap(await env.services.createTemplate(newOrg(), input));
    const other = unwrap(await env.services.createTemplate(ctx, { ...input, name: 'other' }));
    const renamed = await env.services.updateTemplate(ctx, { id: other.id, name: 'welcome' });
    expect(renamed.ok ? null : renamed.error.code).toBe('TEMPLATE_NAME_TAKEN');
  });

  it('an update bumps the version and recompiles; a broken update changes nothing', async () => {
    const ctx = newOrg();
    const created = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'news',
        channel: 'email',
        source: { html: '<p>Old {{contact.firstName}}</p>', subject: 'Old' },
      }),
    );
    expect(created.version).toBe(1);
    const updated = unwrap(
      await env.services.updateTemplate(ctx, {
        id: created.id,
        source: {
          mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>New {{contact.firstName}}</mj-text></mj-column></mj-section></mj-body></mjml>',
          subject: 'New for {{contact.firstName}}',
        },
      }),
    );
    expect(updated.version).toBe(2);
    const preview = unwrap(await env.services.previewTemplate(ctx, { templateId: created.id }));
    expect(preview.subject).toBe('New for Jane');
    expect(preview.html).toContain('New Jane');
    expect(preview.html).not.toContain('Old');

    const broken = await env.services.updateTemplate(ctx, {
      id: created.id,
      source: { html: '<p>{{#each}}', subject: 'x' },
    });
    expect(broken.ok).toBe(false);
    const stored = unwrap(await env.services.getTemplate(ctx, created.id));
    expect(stored).toMatchObject({ version: 2, source: { subject: 'New for {{contact.firstName}}' } });
  });

  it('previews for a chosen contact, with HTML escaped, and for the sample contact', async () => {
    const ctx = newOrg();
    const template = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'hello',
        channel: 'email',
        source: { html: '<p>Hi {{contact.firstName}}, {{context.note}}</p>', subject: 'For {{contact.email}}' },
      }),
    );
    const contactId = await seedContact(env.services, ctx.organizationId, {
      email: 'max@example.com',
      firstName: '<b>Max</b>',
    });
    const chosen = unwrap(
      await env.services.previewTemplate(ctx, { templateId: template.id, contactId, context: { note: 'thanks' } }),
    );
    expect(chosen.subject).toBe('For max@example.com');
    expect(chosen.html).toContain('Hi &lt;b&gt;Max&lt;/b&gt;, thanks');
    expect(chosen.text).toContain('Hi <b>Max</b>, thanks');
    const sample = unwrap(await env.services.previewTemplate(ctx, { templateId: template.id }));
    expect(sample.subject).toBe('For jane.doe@example.com');
    const missing = await env.services.previewTemplate(ctx, { templateId: template.id, contactId: template.id });
    expect(missing.ok ? null : missing.error.code).toBe('NOT_FOUND');
  });

  it('an SMS preview gives its encoding and segment count; a webhook preview the request', async () => {
    const ctx = newOrg();
    const gsm = unwrap(
      await env.services.createTemplate(ctx, { name: 'gsm', channel: 'sms', source: { body: 'x'.repeat(161) } }),
    );
    expect(unwrap(await env.services.previewTemplate(ctx, { templateId: gsm.id }))).toMatchObject({
      smsEncoding: 'GSM-7',
      smsSegments: 2,
    });
    const ucs = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'ucs',
        channel: 'sms',
        source: { body: 'Hi {{contact.firstName}} ✓' },
      }),
    );
    expect(unwrap(await env.services.previewTemplate(ctx, { templateId: ucs.id }))).toMatchObject({
      text: 'Hi Jane ✓',
      smsEncoding: 'UCS-2',
      smsSegments: 1,
    });
    const hook = unwrap(
      await env.services.createTemplate(ctx, {
        name: 'hook',
        channel: 'webhook',
        source: {
          method: 'POST',
          urlTemplate: 'https://hooks.example.com/c/{{contact.id}}',
          bodyTemplate: '{"email": "{{contact.email}}"}',
        },
      }),
    );
    const request = unwrap(await env.services.previewTemplate(ctx, { templateId: hook.id }));
    expect(request).toMatchObject({
      method: 'POST',
      url: 'https://hooks.example.com/c/00000000-0000-7000-8000-000000000000',
    });
    expect(JSON.parse(request.text!)).toEqual({ email: 'jane.doe@example.com' });
  });

  it('sending an SMS template as email is a ValidationError on templateId', async () => {
    const ctx = newOrg();
    const sms = unwrap(await env.services.createTemplate(ctx, { name: 's', channel: 'sms', source: { body: 'Hi' } }));
    const sent = await env.services.sendMessage(ctx, 'email', {
      templateId: sms.id,
      to: 'a@example.com',
      idempotencyKey: 'k',
    });
    expect(sent.ok ? null : sent.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      issues: [{ path: ['input', 'templateId'], message: 'is a sms template' }],
    });
  });
});
