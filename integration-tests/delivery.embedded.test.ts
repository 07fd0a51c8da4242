import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  deliverySuite,
  eventually,
  MJML,
  outboxList,
  outboxMailbox,
  outboxMessage,
  withSession,
} from './delivery-suite.ts';
import { gql, type Platform, STRONG_PASSWORD, startEmbeddedPlatform, uniqueEmail } from './harness.ts';
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
      (await outboxList(platform.publicUrl, session.accessToken)).find((e) => e.to === to),
    );
    expect(entry.subject).toBe('Welcome <W-1>');

    const shown = await outboxMessage(platform.publicUrl, entry.id, session.accessToken);
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

    const missing = await fetch(`${platform.publicUrl}/outbox?id=${entry.id + 1000}`, withSession(session.accessToken));
    expect(missing.status).toBe(404);
  });

  /** A new organization that sent one email, and where it is in the outbox. */
  async function organizationWithMail(label: string) {
    const { email, session } = await signUp(platform.url, label);
    const call = (query: string, variables: Record<string, unknown> = {}) =>
      gql(platform.url, query, variables, { token: session.accessToken });
    const template = await call(
      `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { ... on Template { id } } }`,
      {
        input: {
          name: 'receipt',
          channel: 'EMAIL',
          category: 'TRANSACTIONAL',
          source: { mjml: MJML, subject: `Receipt for ${label}`, fromAddress: 'shop@shop.example.com' },
        },
      },
    );
    const to = uniqueEmail(label);
    await call(`mutation($input: SendMessageInput!) { sendEmail(input: $input) { ... on Message { id } } }`, {
      input: { templateId: template.data!.createTemplate.id, to, context: { order: label }, idempotencyKey: label },
    });
    const entry = await eventually(`${label}'s email in the outbox`, async () =>
      (await outboxList(platform.publicUrl, session.accessToken)).find((e) => e.to === to),
    );
    return { email, session, to, entry };
  }

  it('answers no session with the sign-in form and no mail, and each organization sees only its own', async () => {
    const alpha = await organizationWithMail('alpha');
    const beta = await organizationWithMail('beta');
    const url = (path: string) => `${platform.publicUrl}${path}`;

    for (const path of ['/outbox', `/outbox?id=${alpha.entry.id}`, `/outbox/html?id=${alpha.entry.id}`]) {
      const anonymous = await fetch(url(path));
      expect(anonymous.status, path).toBe(401);
      const page = await anonymous.text();
      expect(page).toContain('<form method="post" action="/outbox/login">');
      expect(page).not.toContain(alpha.to);
      expect(page).not.toContain('Receipt for');
    }

    const alphaList = await outboxList(platform.publicUrl, alpha.session.accessToken);
    expect(alphaList.map((e) => e.to)).toEqual([alpha.to]);
    expect((await outboxList(platform.publicUrl, beta.session.accessToken)).map((e) => e.to)).toEqual([beta.to]);
    // Another organization's message is not there, whichever page asks.
    const asBeta = withSession(beta.session.accessToken);
    expect((await fetch(url(`/outbox?id=${alpha.entry.id}`), asBeta)).status).toBe(404);
    expect((await fetch(url(`/outbox/html?id=${alpha.entry.id}`), asBeta)).status).toBe(404);
  });

  it('answers ids that are not a message with 404, never a server error', async () => {
    const { session } = await signUp(platform.url, 'ids');
    for (const id of ['99999999999999999999', 'abc', '-1', '0', '1e3']) {
      for (const path of [`/outbox?id=${id}`, `/outbox/html?id=${id}`]) {
        const response = await fetch(`${platform.publicUrl}${path}`, withSession(session.accessToken));
        expect(response.status, path).toBe(404);
      }
    }
    const paged = await fetch(
      `${platform.publicUrl}/outbox?before=99999999999999999999`,
      withSession(session.accessToken),
    );
    expect(paged.status).toBe(200);
  });

  it('signs in through its form into an HttpOnly, SameSite=Strict cookie for /outbox only', async () => {
    const alpha = await organizationWithMail('gamma');
    const signIn = (password: string, headers: Record<string, string> = {}) =>
      fetch(`${platform.publicUrl}/outbox/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams({ email: alpha.email, password }).toString(),
      });

    const wrong = await signIn('not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(await wrong.text()).toContain('Wrong email or password.');
    // A form on another site may not sign a visitor in.
    const crossSite = await signIn(STRONG_PASSWORD, { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.headers.get('set-cookie')).toBeNull();
    expect((await fetch(`${platform.publicUrl}/outbox/login`)).status).toBe(405);

    const signedIn = await signIn(STRONG_PASSWORD, { origin: platform.publicUrl, 'sec-fetch-site': 'same-origin' });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get('location')).toBe('/outbox');
    const cookie = signedIn.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^mauntic_outbox=[\w.-]+; /);
    expect(cookie.split('; ')).toEqual(
      expect.arrayContaining(['Path=/outbox', 'HttpOnly', 'SameSite=Strict', expect.stringMatching(/^Max-Age=\d+$/)]),
    );
    const page = await fetch(`${platform.publicUrl}/outbox`, { headers: { cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(alpha.to);
  });
});
