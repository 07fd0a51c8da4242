// Delivery through the gateway, as a client calls it, and through the public routes, as a
// recipient's mail client reaches them. The same suite runs against both modes; only the mailbox
// differs: a real SMTP server the test runs (cluster), or the local outbox read in a browser
// (embedded, where no provider is set up).
import { randomBytes } from 'node:crypto';
import { eventually } from '@mauntic/platform/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmtpFake, startSmtpFake } from '../subgraphs/delivery/test/fakes/smtp-server.ts';
import { type GraphQLResult, gql, type Platform, type PlatformFactory, uniqueEmail } from './harness.ts';
import { signUp } from './identity-suite.ts';
import { decodeEntities, readMail } from './mail.ts';

// The suites that import it from here keep doing so.
export { eventually };

const CREATE_CONTACT = `mutation($input: ContactInput!) { createContact(input: $input) {
  __typename ... on Contact { id email firstName } ... on Error { code message } } }`;
const CREATE_TEMPLATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) {
  __typename
  ... on Template { id name channel category version }
  ... on TemplateSyntaxError { message code field line column issues { field line column message } }
  ... on ForbiddenError { required }
  ... on Error { code message } } }`;
const CREATE_PROVIDER = `mutation($input: CreateProviderInput!) { createProvider(input: $input) {
  __typename ... on Provider { id kind channel isDefault settings secretsSet } ... on Error { code message } } }`;
const PREVIEW = `query($t: ID!, $c: ID) { previewTemplate(templateId: $t, contactId: $c) { subject text } }`;
const MESSAGE_FIELDS =
  'id status address channel idempotencyKey attempts error clicks machineClicks contact { id } templateId';
const SEND_EMAIL = `mutation($input: SendMessageInput!) { sendEmail(input: $input) {
  __typename
  ... on Message { ${MESSAGE_FIELDS} }
  ... on NotFoundError { entity missingId: id }
  ... on ForbiddenError { required }
  ... on Error { code message } } }`;
const MESSAGE = `query($id: ID!) { message(id: $id) { ${MESSAGE_FIELDS} } }`;
const MESSAGES = `query($filter: MessageFilter) { messages(filter: $filter, first: 20) {
  totalCount edges { node { id status idempotencyKey } } } }`;
const SUPPRESSIONS = `{ suppressions(first: 20) { totalCount edges { node { channel address reason source } } } }`;
const TEMPLATES = `{ templates(first: 20) { totalCount edges { node { id name } } } }`;
const CREATE_KEY = `mutation($name: String!, $scopes: [String!]!) { createApiKey(input: { name: $name, scopes: $scopes }) {
  __typename ... on CreatedApiKey { secret } ... on Error { code message } } }`;

export const LINK = 'https://shop.example.com/orders?ref=mail';
export const MJML = `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{contact.firstName}}, your order {{context.order}} shipped.</mj-text>
  <mj-button href="${LINK}">Track it</mj-button>
</mj-column></mj-section></mj-body></mjml>`;

export interface ReceivedMail {
  subject: string;
  text: string;
  html: string;
  header(name: string): string | undefined;
}

/** Where the platform puts mail, and how the test reads it like a recipient would. */
export interface Mailbox {
  /** Cluster: makes the organization's default email provider point at this mailbox. */
  setUp(call: Caller): Promise<void>;
  /** Every message that reached `address` so far; `accessToken` is a session of the sending organization. */
  received(address: string, accessToken: string): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

type Caller = (query: string, variables?: Record<string, unknown>) => Promise<GraphQLResult>;

const SMTP_USER = 'relay-user';
const SMTP_PASS = `relay-${randomBytes(8).toString('hex')}`;

/** A real SMTP server (the delivery tests' fake) that keeps every message; the engine sends through it. */
export async function smtpMailbox(): Promise<Mailbox & { smtp: SmtpFake }> {
  const smtp = await startSmtpFake({ user: SMTP_USER, pass: SMTP_PASS });
  return {
    smtp,
    async setUp(call) {
      const created = await call(CREATE_PROVIDER, {
        input: {
          name: 'test relay',
          kind: 'SMTP',
          config: { host: '127.0.0.1', port: smtp.port, user: SMTP_USER, pass: SMTP_PASS, pool: { maxConnections: 1 } },
          isDefault: true,
        },
      });
      expect(created.data?.createProvider).toMatchObject({
        __typename: 'Provider',
        kind: 'SMTP',
        channel: 'EMAIL',
        isDefault: true,
        secretsSet: ['pass'],
      });
      // The password is stored encrypted and never comes back.
      expect(JSON.stringify(created.data)).not.toContain(SMTP_PASS);
    },
    async received(address) {
      return smtp.messages
        .filter((m) => m.rcptTo.includes(address))
        .map((m) => {
          // The relay only takes mail from the provider's credentials: the engine decrypted them.
          expect(m.user).toBe(SMTP_USER);
          const mail = readMail(m.raw);
          return { subject: mail.header('subject') ?? '', text: mail.text, html: mail.html, header: mail.header };
        });
    },
    close: () => smtp.close(),
  };
}

export interface OutboxEntry {
  id: number;
  subject: string;
  to: string;
}

/** A browser request to /outbox with a session: its access token. */
export const withSession = (accessToken: string) => ({ headers: { authorization: `Bearer ${accessToken}` } });

/** The /outbox list page, as a browser signed in to the organization shows it. */
export async function outboxList(publicUrl: string, accessToken: string): Promise<OutboxEntry[]> {
  const response = await fetch(`${publicUrl}/outbox`, withSession(accessToken));
  expect(response.status).toBe(200);
  const page = await response.text();
  const rows = page.matchAll(/<a href="\/outbox\?id=(\d+)">([^<]*)<\/a><\/td>\s*<td>([^<]*)<\/td>/g);
  return [...rows].map((m) => ({ id: Number(m[1]), subject: decodeEntities(m[2]!), to: decodeEntities(m[3]!) }));
}

/** One message's page at /outbox?id=N: subject, text part and headers; and its HTML part. */
export async function outboxMessage(publicUrl: string, id: number, accessToken: string) {
  const response = await fetch(`${publicUrl}/outbox?id=${id}`, withSession(accessToken));
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  const page = await response.text();
  const section = (name: string) =>
    decodeEntities(new RegExp(`<h2>${name}</h2><pre>([\\s\\S]*?)</pre>`).exec(page)?.[1] ?? '');
  const headerLines = section('Headers').split('\n');
  const htmlResponse = await fetch(`${publicUrl}/outbox/html?id=${id}`, withSession(accessToken));
  expect(htmlResponse.status).toBe(200);
  return {
    page,
    subject: decodeEntities(/<h1>([^<]*)<\/h1>/.exec(page)?.[1] ?? ''),
    text: section('Text'),
    html: await htmlResponse.text(),
    htmlCsp: htmlResponse.headers.get('content-security-policy'),
    header: (name: string) =>
      headerLines
        .find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}: `))
        ?.slice(name.length + 2)
        .trim(),
  };
}

/** Embedded mode's local outbox, read through its browser pages. */
export function outboxMailbox(platform: () => Platform): Mailbox {
  return {
    async setUp() {},
    async received(address, accessToken) {
      const entries = (await outboxList(platform().publicUrl, accessToken)).filter((e) => e.to === address);
      return Promise.all(entries.map((e) => outboxMessage(platform().publicUrl, e.id, accessToken)));
    },
    async close() {},
  };
}

export function deliverySuite(
  name: string,
  start: PlatformFactory,
  openMailbox: (p: () => Platform) => Promise<Mailbox>,
) {
  describe(`delivery through the gateway (${name})`, () => {
    let platform: Platform;
    let mailbox: Mailbox;
    beforeAll(async () => {
      // The test's SMTP server listens on loopback, which an operator must allow (cluster mode).
      platform = await start({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' });
      mailbox = await openMailbox(() => platform);
    });
    afterAll(async () => {
      await mailbox?.close();
      await platform?.stop();
    });

    /** A new organization with a contact CRM created, an email template, and (cluster) a provider. */
    async function organization(label: string) {
      const { session } = await signUp(platform.url, label);
      const call: Caller = (query, variables = {}) =>
        gql(platform.url, query, variables, { token: session.accessToken });
      const email = uniqueEmail(label);
      const contact = await call(CREATE_CONTACT, { input: { email, firstName: 'Ada' } });
      expect(contact.data?.createContact.__typename).toBe('Contact');
      const template = await call(CREATE_TEMPLATE, {
        input: {
          name: 'order shipped',
          channel: 'EMAIL',
          source: {
            mjml: MJML,
            subject: 'Order {{context.order}} for {{contact.firstName}}',
            fromAddress: 'shop@shop.example.com',
          },
        },
      });
      expect(template.data?.createTemplate).toMatchObject({ __typename: 'Template', category: 'MARKETING' });
      await mailbox.setUp(call);
      const contactId: string = contact.data!.createContact.id;
      const templateId: string = template.data!.createTemplate.id;
      // Delivery learns of the contact from CRM's crm.contact.created event; until it has, a
      // preview for that contact answers NOT_FOUND.
      const preview = await eventually('delivery knows the contact CRM created', async () => {
        const result = await call(PREVIEW, { t: templateId, c: contactId });
        return result.data?.previewTemplate ?? undefined;
      });
      expect(preview.subject).toBe('Order  for Ada');
      return { session, call, email: email.toLowerCase(), contactId, templateId };
    }

    async function sentMessage(call: Caller, id: string) {
      return eventually(`message ${id} sent`, async () => {
        const message = (await call(MESSAGE, { id })).data?.message;
        if (message?.status === 'FAILED') throw new Error(`message failed: ${message.error}`);
        return message?.status === 'SENT' ? message : undefined;
      });
    }

    async function receivedOne(address: string, accessToken: string) {
      const [mail, ...more] = await eventually(`mail to ${address} received`, async () => {
        const all = await mailbox.received(address, accessToken);
        return all.length ? all : undefined;
      });
      expect(more).toHaveLength(0);
      return mail!;
    }

    it('sends a personalised, tracked email to a CRM contact once per idempotency key', async () => {
      const { session, call, email, contactId, templateId } = await organization('send');
      const input = { templateId, contactId, context: { order: 'A-17' }, idempotencyKey: 'order-A-17' };
      const first = await call(SEND_EMAIL, { input });
      expect(first.data?.sendEmail).toMatchObject({
        __typename: 'Message',
        status: 'QUEUED',
        channel: 'EMAIL',
        address: email,
        contact: { id: contactId },
        templateId,
      });
      const again = await call(SEND_EMAIL, { input });
      expect(again.data?.sendEmail.id).toBe(first.data!.sendEmail.id);

      const message = await sentMessage(call, first.data!.sendEmail.id);
      expect(message).toMatchObject({ status: 'SENT', attempts: 1, error: null });
      const listed = await call(MESSAGES, { filter: { templateId } });
      expect(listed.data?.messages).toMatchObject({
        totalCount: 1,
        edges: [{ node: { id: message.id, status: 'SENT', idempotencyKey: 'order-A-17' } }],
      });

      const mail = await receivedOne(email, session.accessToken);
      expect(mail.subject).toBe('Order A-17 for Ada');
      expect(mail.text).toContain('Hello Ada, your order A-17 shipped.');
      const html = decodeEntities(mail.html);
      expect(html).toContain('Hello Ada, your order A-17 shipped.');
      // The link goes through the click endpoint on the public base URL; the target is not in it.
      const base = platform.publicUrl.replace(/\/+$/, '').replace('127.0.0.1', '(?:127\\.0\\.0\\.1|localhost)');
      expect(html).toMatch(new RegExp(`href="${base}/t/click\\?t=[\\w.-]+&l=0"`));
      expect(html).not.toContain(LINK);
      expect(html).toMatch(new RegExp(`<img[^>]+src="${base}/t/open\\?t=[\\w.-]+"`));
      // A marketing email carries RFC 2369 / RFC 8058 one-click unsubscribe headers.
      expect(mail.header('List-Unsubscribe')).toMatch(new RegExp(`^<${base}/t/unsubscribe\\?t=[\\w.-]+>`));
      expect(mail.header('List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
      expect(mail.header('X-Mauntic-Message')).toBe(message.id);
    });

    it('redirects a tracked click to the template link, and a one-click unsubscribe suppresses the address', async () => {
      const { session, call, email, contactId, templateId } = await organization('unsub');
      const sent = await call(SEND_EMAIL, {
        input: { templateId, contactId, context: { order: 'B-2' }, idempotencyKey: 'order-B-2' },
      });
      const id: string = sent.data!.sendEmail.id;
      await sentMessage(call, id);
      const mail = await receivedOne(email, session.accessToken);

      const clickUrl = /href="([^"]+\/t\/click\?t=[^"]+)"/.exec(decodeEntities(mail.html))?.[1];
      expect(clickUrl).toBeDefined();
      const click = await fetch(clickUrl!, { redirect: 'manual' });
      expect(click.status).toBe(302);
      expect(click.headers.get('location')).toBe(LINK);
      // A tampered token leads nowhere.
      const tampered = await fetch(`${clickUrl!.slice(0, -2)}xx`, { redirect: 'manual' });
      expect(tampered.status).toBe(404);
      // A script following a link seconds after sending is a scanner, not a person.
      const clicked = await eventually('the click recorded', async () => {
        const m = (await call(MESSAGE, { id })).data?.message;
        return m?.machineClicks === 1 ? m : undefined;
      });
      expect(clicked.clicks).toBe(0);

      expect((await call(SUPPRESSIONS)).data?.suppressions.totalCount).toBe(0);
      const unsubscribeUrl = /^<([^>]+)>/.exec(mail.header('List-Unsubscribe') ?? '')?.[1];
      expect(unsubscribeUrl).toBeDefined();
      // What a mail client does with List-Unsubscribe-Post: a POST, no cookie, no page.
      const oneClick = await fetch(unsubscribeUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: mail.header('List-Unsubscribe-Post'),
      });
      expect(oneClick.status).toBe(200);
      expect(await oneClick.text()).toBe('unsubscribed');

      const suppressions = await call(SUPPRESSIONS);
      expect(suppressions.data?.suppressions).toEqual({
        totalCount: 1,
        edges: [{ node: { channel: 'EMAIL', address: email, reason: 'UNSUBSCRIBE', source: 'one-click' } }],
      });

      // The next marketing email to the address is skipped, and nothing more reaches it.
      const next = await call(SEND_EMAIL, {
        input: { templateId, contactId, context: { order: 'B-3' }, idempotencyKey: 'order-B-3' },
      });
      const skipped = await eventually('the next send decided', async () => {
        const m = (await call(MESSAGE, { id: next.data!.sendEmail.id })).data?.message;
        return m && m.status !== 'QUEUED' && m.status !== 'SENDING' ? m : undefined;
      });
      expect(skipped).toMatchObject({ status: 'SKIPPED', error: 'suppressed: unsubscribe' });
      expect(await mailbox.received(email, session.accessToken)).toHaveLength(1);
    });

    it('returns typed errors: broken MJML with its position, another organization’s template, a missing scope', async () => {
      const { call, templateId } = await organization('errors');
      const broken = `<mjml><mj-body><mj-section><mj-column>\n  <mj-text>Hi</mj-text>\n    <mj-bogus>x</mj-bogus>\n</mj-column></mj-section></mj-body></mjml>`;
      const syntax = await call(CREATE_TEMPLATE, {
        input: { name: 'broken', channel: 'EMAIL', source: { mjml: broken, subject: 'Hi' } },
      });
      expect(syntax.data?.createTemplate).toMatchObject({
        __typename: 'TemplateSyntaxError',
        code: 'TEMPLATE_SYNTAX_ERROR',
        field: 'mjml',
        line: 3,
        column: 5,
      });
      expect(syntax.data?.createTemplate.message).toMatch(/mj-bogus/);
      // Nothing was saved.
      const templates = await call(TEMPLATES);
      expect(templates.data?.templates.edges.map((e: any) => e.node.id)).toEqual([templateId]);

      // Another organization neither sends with this template nor sees its messages.
      const other = await organization('intruder');
      const foreign = await other.call(SEND_EMAIL, {
        input: { templateId, to: 'someone@example.com', idempotencyKey: 'steal-1' },
      });
      expect(foreign.data?.sendEmail).toMatchObject({
        __typename: 'NotFoundError',
        code: 'NOT_FOUND',
        entity: 'Template',
        missingId: templateId,
      });
      const own = await call(SEND_EMAIL, {
        input: { templateId, to: 'own@example.com', context: { order: 'C-1' }, idempotencyKey: 'own-1' },
      });
      expect(own.data?.sendEmail.__typename).toBe('Message');
      expect((await other.call(MESSAGE, { id: own.data!.sendEmail.id })).data?.message).toBeNull();
      expect((await other.call(MESSAGES)).data?.messages.totalCount).toBe(0);

      // A key that may read delivery but not write it.
      const key = await call(CREATE_KEY, { name: 'reporting', scopes: ['delivery:read'] });
      expect(key.data?.createApiKey.__typename).toBe('CreatedApiKey');
      const reader = (query: string, variables: Record<string, unknown> = {}) =>
        gql(platform.url, query, variables, { token: key.data!.createApiKey.secret });
      const denied = await reader(SEND_EMAIL, {
        input: { templateId, to: 'x@example.com', idempotencyKey: 'denied-1' },
      });
      expect(denied.data?.sendEmail).toEqual({
        __typename: 'ForbiddenError',
        required: 'delivery:write',
        code: 'FORBIDDEN',
        message: expect.any(String),
      });
      const deniedTemplate = await reader(CREATE_TEMPLATE, {
        input: { name: 'sneaky', channel: 'EMAIL', source: { mjml: MJML, subject: 'x' } },
      });
      expect(deniedTemplate.data?.createTemplate).toMatchObject({
        __typename: 'ForbiddenError',
        required: 'delivery:write',
      });
      // The same key reads: it was refused for its scope, not for being a bad key.
      const readable = await reader(MESSAGES, { filter: { templateId } });
      expect(readable.data?.messages.edges.map((e: any) => e.node.idempotencyKey)).toEqual(['own-1']);
    });
  });
}
