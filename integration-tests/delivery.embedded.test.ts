import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverySuite, eventually, MJML, outboxList, outboxMailbox, outboxMessage } from './delivery-suite.ts';
import { gql, type Platform, startEmbeddedPlatform, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';

// No email provider is set up: every message lands in the local outbox, read at /outbox.
deliverySuite('embedded', startEmbeddedPlatform, async (platform) => outboxMailbox(platform));

describe('embedded mode: the local outbox', () => {
  let platform: Platform;
  beforeAll(async () => {
    platform = await startEmbeddedPlatform();
  });
  afterAll(() => platform?.stop());

  it('the outbox page lists a sent email and renders its subject, text, headers and sandboxed HTML', async () => {
    const { session } = await signUp(platform.url, 'outbox');
    const call = (query: string, variables: Record<string, unknown> = {}) =>
      gql(platform.url, query, variables, { token: session.accessToken });
    const template = await call(
      `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { __typename ... on Template { id } } }`,
      {
        input: {
          name: 'welcome',
          channel: 'EMAIL',
          category: 'TRANSACTIONAL',
          source: { mjml: MJML, subject: 'Welcome <{{context.order}}>', fromAddress: 'hello@shop.example.com' },
        },
      },
    );
    expect(template.data?.createTemplate.__typename).toBe('Template');
    const to = uniqueEmail('newcomer');
    const sent = await call(
      `mutation($input: SendMessageInput!) { sendEmail(input: $input) { __typename ... on Message { id } } }`,
      { input: { templateId: template.data!.createTemplate.id, to, context: { order: 'W-1' }, idempotencyKey: 'w-1' } },
    );
    expect(sent.data?.sendEmail.__typename).toBe('Message');

    const entry = await eventually('the email listed at /outbox', async () =>
      (await outboxList(platform.publicUrl)).find((e) => e.to === to),
    );
    expect(entry.subject).toBe('Welcome <W-1>');

    const shown = await outboxMessage(platform.publicUrl, entry.id);
    expect(shown.subject).toBe('Welcome <W-1>');
    // Data is escaped on the page, not interpreted.
    expect(shown.page).toContain('Welcome &#60;W-1&#62;');
    expect(shown.page).toContain(`<iframe sandbox src="/outbox/html?id=${entry.id}"`);
    expect(shown.page).toContain('hello@shop.example.com');
    expect(shown.text).toContain('your order W-1 shipped.');
    expect(shown.header('X-Mauntic-Message')).toBe(sent.data!.sendEmail.id);
    // A transactional email carries no unsubscribe headers.
    expect(shown.header('List-Unsubscribe')).toBeUndefined();
    expect(shown.html).toContain('your order W-1 shipped.');
    // The message's own HTML may not run scripts or load anything, tracking pixels included.
    expect(shown.htmlCsp).toContain("default-src 'none'");
    expect(shown.htmlCsp).toContain('img-src data:');

    const missing = await fetch(`${platform.publicUrl}/outbox?id=${entry.id + 1000}`);
    expect(missing.status).toBe(404);
  });
});
