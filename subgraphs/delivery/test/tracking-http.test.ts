// Delivery's public HTTP endpoints on a real HTTP server, with URLs taken from mail the engine
// really sent: the open pixel, click redirects, unsubscribe (page and RFC 8058 one-click), the
// preference page, and embedded mode's /outbox.
import { randomBytes } from 'node:crypto';
import { fail, newId, UnauthenticatedError, unwrap } from '@mauntic/kernel';
import { type RunningHttpServer, signAccessToken, startHttpServer } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { simpleParser } from 'mailparser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DeliveryEngine } from '../../../workers/delivery-engine/src/engine.ts';
import { accessTokenAuthenticator, deliveryRoutes } from '../src/http/routes.ts';
import { drain, startEngineFor } from './engine-driver.ts';
import { type SmtpFake, startSmtpFake } from './fakes/smtp-server.ts';
import { newOrg, OWN_DATABASES, openDelivery, PUBLIC_BASE_URL, seedContact, useSmtpRelay } from './harness.ts';

const MJML = `<mjml><mj-body><mj-section><mj-column>
  <mj-text>Hello {{contact.firstName}}, deals for you.</mj-text>
  <mj-button href="https://shop.example.com/deals?id={{context.deal}}">See the deal</mj-button>
  <mj-text><a href="{{unsubscribeUrl}}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`;

const HUMAN_UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
/** Apple Mail Privacy Protection fetches images with this bare user agent. */
const APPLE_MPP_UA = 'Mozilla/5.0';

type Org = ReturnType<typeof newOrg>;

describe.each(OWN_DATABASES)('tracking and unsubscribe endpoints (%s)', (_name, open) => {
  let env: Awaited<ReturnType<typeof openDelivery>>;
  let smtp: SmtpFake;
  let http: RunningHttpServer;
  let engine: DeliveryEngine;
  const jwtKey = randomBytes(32);

  beforeAll(async () => {
    // People open and click a minute after sending: sooner clicks count as link scanners.
    env = await openDelivery(open, () => new Date(Date.now() + 60_000));
    smtp = await startSmtpFake();
    http = await startHttpServer(
      {
        service: 'delivery-test',
        logger: env.logger,
        // Sessions are access tokens signed with jwtKey; this test has no identity to sign in with.
        routes: deliveryRoutes(env.services, {
          outbox: {
            authenticate: accessTokenAuthenticator(jwtKey),
            logIn: async () => fail(new UnauthenticatedError()),
          },
        }),
      },
      0,
      '127.0.0.1',
    );
    engine = startEngineFor(env, { localOutbox: true });
  });
  afterEach(() => smtp.reset());
  afterAll(async () => {
    await engine?.stop();
    await http?.close();
    await smtp?.close();
    await env?.close();
  });

  /** Our public URL, pointed at the test server. */
  const local = (url: string) => url.replace(PUBLIC_BASE_URL, http.url.replace(/\/$/, ''));
  const get = (url: string, ua = HUMAN_UA) => fetch(local(url), { redirect: 'manual', headers: { 'user-agent': ua } });
  const post = (url: string, body: string) =>
    fetch(local(url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': HUMAN_UA },
      body,
    });

  async function setUp(options: { smtp?: boolean } = {}) {
    const ctx = newOrg();
    const template = (category: 'marketing' | 'transactional', name: string) =>
      env.services.createTemplate(ctx, {
        name,
        channel: 'email',
        category,
        source: {
          mjml: MJML,
          subject: 'Deals <b>now</b> & more for {{contact.firstName}}',
          fromAddress: 'news@shop.example.com',
        },
      });
    const marketing = unwrap(await template('marketing', 'deals'));
    const transactional = unwrap(await template('transactional', 'receipt'));
    if (options.smtp !== false) await useSmtpRelay(env.services, ctx, smtp.port);
    return { ctx, marketing, transactional };
  }

  /** Sends one message through the engine and returns it with the URLs found in the sent MIME. */
  async function sendOne(ctx: Org, templateId: string, to: string) {
    const message = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId,
        to,
        context: { deal: '42' },
        idempotencyKey: newId(),
      }),
    );
    await drain(engine);
    const raw = smtp.messages.find((m) => m.rcptTo[0] === to.toLowerCase());
    expect(raw, `a message reached the SMTP server for ${to}`).toBeDefined();
    const mail = await simpleParser(raw!.raw);
    const html = String(mail.html).replaceAll('&#x3D;', '=').replaceAll('&amp;', '&');
    const head = raw!.raw
      .toString('utf8')
      .split('\r\n\r\n')[0]!
      .replace(/\r\n\s+/g, ' ');
    const find = (re: RegExp, text: string) => {
      const found = text.match(re)?.[1];
      expect(found, `${re} in the sent message`).toBeDefined();
      return found!;
    };
    return {
      message,
      open: find(/<img[^>]+src="(https:\/\/mail\.example\.test\/t\/open\?t=[\w.-]+)"/, html),
      click: find(/href="(https:\/\/mail\.example\.test\/t\/click\?t=[\w.-]+&l=\d+)"/, html),
      unsubscribe: find(/List-Unsubscribe: <(https:\/\/mail\.example\.test\/t\/unsubscribe\?t=[\w.-]+)>/, head),
    };
  }

  const messageRow = async (id: string) =>
    (
      await env.handle.rows<{
        status: string;
        opens: number;
        machine_opens: number;
        clicks: number;
        machine_clicks: number;
        error: string | null;
      }>(
        sql`select status, opens, machine_opens, clicks, machine_clicks, error from delivery.messages where id = ${id}`,
      )
    )[0]!;
  const eventsOf = (id: string) =>
    env.handle.rows<{ type: string; machine: boolean; url: string | null }>(
      sql`select type, machine, url from delivery.message_events where message_id = ${id} order by seq`,
    );
  const outboxTypes = async (organizationId: string) =>
    (
      await env.handle.rows<{ type: string }>(
        sql`select type from delivery.outbox where organization_id = ${organizationId} order by seq`,
      )
    ).map((e) => e.type);
  const suppressionsOf = (organizationId: string) =>
    env.handle.rows<{ channel: string; address: string; reason: string; source: string | null }>(
      sql`select channel, address, reason, source from delivery.suppressions
          where organization_id = ${organizationId} order by address`,
    );
  /** One character of the signed payload changed. */
  const tamper = (url: string) => {
    const at = url.indexOf('?t=') + 8;
    return url.slice(0, at) + (url[at] === 'A' ? 'B' : 'A') + url.slice(at + 1);
  };

  it('the open pixel is a GIF and counts a person`s open; Apple MPP`s fetch counts as a machine open', async () => {
    const { ctx, marketing } = await setUp();
    const sent = await sendOne(ctx, marketing.id, 'ada@example.com');

    const machine = await get(sent.open, APPLE_MPP_UA);
    expect(machine.status).toBe(200);
    expect(machine.headers.get('content-type')).toBe('image/gif');
    expect(
      Buffer.from(await machine.arrayBuffer())
        .subarray(0, 6)
        .toString('latin1'),
    ).toBe('GIF89a');
    expect(await messageRow(sent.message.id)).toMatchObject({ status: 'sent', opens: 0, machine_opens: 1 });

    const human = await get(sent.open);
    expect(human.status).toBe(200);
    expect(await messageRow(sent.message.id)).toMatchObject({ status: 'opened', opens: 1, machine_opens: 1 });
    expect((await eventsOf(sent.message.id)).map((e) => [e.type, e.machine])).toEqual([
      ['open', true],
      ['open', false],
    ]);
    const opened = await env.handle.rows<{ data: { machine: boolean } }>(
      sql`select envelope->'data' as data from delivery.outbox where organization_id = ${ctx.organizationId}
          and type = 'delivery.message.opened' order by seq`,
    );
    expect(opened.map((e) => e.data.machine)).toEqual([true, false]);
  });

  it('a click redirects to the template`s link and records it; a tampered or misused token records nothing', async () => {
    const { ctx, marketing } = await setUp();
    const sent = await sendOne(ctx, marketing.id, 'bea@example.com');

    const tampered = await get(tamper(sent.click));
    expect(tampered.status).toBe(404);
    // A click token is not an open token, nor the other way round.
    const asOpen = await get(sent.click.replace('/t/click?', '/t/open?'));
    expect(asOpen.status).toBe(200);
    const asClick = await get(`${sent.open.replace('/t/open?', '/t/click?')}&l=0`);
    expect(asClick.status).toBe(404);
    // The link index beside the token only picks among the message's own links.
    expect(sent.click).toMatch(/&l=0$/);
    for (const link of ['&l=1', '&l=-1', '&l=x', '']) {
      const other = await get(sent.click.replace('&l=0', link));
      expect(other.status, `index ${link}`).toBe(404);
    }
    // The target is never read from the request.
    const redirected = await get(`${sent.click}&url=https%3A%2F%2Fevil.example`);
    expect(redirected.status).toBe(302);
    expect(redirected.headers.get('location')).toBe('https://shop.example.com/deals?id=42');

    expect(await messageRow(sent.message.id)).toMatchObject({
      status: 'clicked',
      clicks: 1,
      machine_clicks: 0,
      opens: 0,
      machine_opens: 0,
    });
    expect(await eventsOf(sent.message.id)).toEqual([
      { type: 'click', machine: false, url: 'https://shop.example.com/deals?id=42' },
    ]);

    const tamperedOpen = await get(tamper(sent.open));
    expect(tamperedOpen.status).toBe(200);
    expect((await messageRow(sent.message.id)).opens).toBe(0);
    expect(await eventsOf(sent.message.id)).toHaveLength(1);
  });

  it('GET on the unsubscribe link only shows a page; it unsubscribes nobody', async () => {
    const { ctx, marketing } = await setUp();
    const sent = await sendOne(ctx, marketing.id, 'cy@example.com');
    const page = await get(sent.unsubscribe, 'Mozilla/5.0 (compatible; BingPreview/1.0b)');
    expect(page.status).toBe(200);
    const body = await page.text();
    expect(body).toContain('cy@example.com');
    expect(body).toContain('<form method="post">');
    expect(await suppressionsOf(ctx.organizationId)).toEqual([]);
    expect(await outboxTypes(ctx.organizationId)).not.toContain('delivery.message.unsubscribed');
  });

  it('an RFC 8058 one-click POST unsubscribes exactly that address on that channel, and marketing stops', async () => {
    const { ctx, marketing, transactional } = await setUp();
    const other = newOrg();
    // The same address in another organization, and another address of this one.
    unwrap(
      await env.services.addSuppression(other, { channel: 'email', address: 'dee@example.com', reason: 'manual' }),
    );
    unwrap(await env.services.addSuppression(ctx, { channel: 'email', address: 'eve@example.com', reason: 'manual' }));
    const otherBefore = await suppressionsOf(other.organizationId);
    const sent = await sendOne(ctx, marketing.id, 'dee@example.com');

    // No cookie, no session: only the signed URL and the RFC 8058 body.
    const response = await post(sent.unsubscribe, 'List-Unsubscribe=One-Click');
    expect(response.status).toBe(200);
    expect(await suppressionsOf(ctx.organizationId)).toEqual([
      { channel: 'email', address: 'dee@example.com', reason: 'unsubscribe', source: 'one-click' },
      { channel: 'email', address: 'eve@example.com', reason: 'manual', source: null },
    ]);
    expect(await suppressionsOf(other.organizationId)).toEqual(otherBefore);
    const [event] = await env.handle.rows<{ data: { oneClick: boolean; address: string; messageId: string } }>(
      sql`select envelope->'data' as data from delivery.outbox where organization_id = ${ctx.organizationId}
          and type = 'delivery.message.unsubscribed'`,
    );
    expect(event?.data).toMatchObject({ oneClick: true, address: 'dee@example.com', messageId: sent.message.id });

    // The next marketing message to the address is skipped; a transactional one still goes.
    smtp.reset();
    const next = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: marketing.id,
        to: 'dee@example.com',
        idempotencyKey: newId(),
      }),
    );
    const receipt = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: transactional.id,
        to: 'dee@example.com',
        idempotencyKey: newId(),
      }),
    );
    await drain(engine);
    expect(await messageRow(next.id)).toMatchObject({ status: 'skipped', error: 'suppressed: unsubscribe' });
    expect((await messageRow(receipt.id)).status).toBe('sent');
    expect(smtp.messages.map((m) => m.rcptTo[0])).toEqual(['dee@example.com']);
    expect((await simpleParser(smtp.messages[0]!.raw)).subject).toContain('Deals');
    expect(smtp.messages[0]!.raw.toString('utf8')).not.toContain('List-Unsubscribe');
  });

  it('a forged unsubscribe POST changes nothing', async () => {
    const { ctx, marketing } = await setUp();
    const sent = await sendOne(ctx, marketing.id, 'fay@example.com');
    const response = await post(tamper(sent.unsubscribe), 'List-Unsubscribe=One-Click');
    expect(response.status).toBe(404);
    expect(await suppressionsOf(ctx.organizationId)).toEqual([]);
  });

  it('the preference page resubscribes an unsubscribe, but never lifts a hard bounce', async () => {
    const { ctx, marketing } = await setUp();
    const sent = await sendOne(ctx, marketing.id, 'gus@example.com');
    const preferences = sent.unsubscribe.replace('/t/unsubscribe?', '/t/preferences?');

    const off = await post(preferences, 'subscribed=no');
    expect(off.status).toBe(200);
    expect(await off.text()).toContain('not subscribed (unsubscribe)');
    expect(await suppressionsOf(ctx.organizationId)).toMatchObject([
      { address: 'gus@example.com', reason: 'unsubscribe' },
    ]);
    const on = await post(preferences, 'subscribed=yes');
    expect(await on.text()).toMatch(/gus@example\.com<\/b>:\s+subscribed/);
    expect(await suppressionsOf(ctx.organizationId)).toEqual([]);

    const bounced = await sendOne(ctx, marketing.id, 'hal@example.com');
    unwrap(
      await env.services.addSuppression(ctx, { channel: 'email', address: 'hal@example.com', reason: 'hard_bounce' }),
    );
    const bouncedPrefs = bounced.unsubscribe.replace('/t/unsubscribe?', '/t/preferences?');
    const page = await post(bouncedPrefs, 'subscribed=yes');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('cannot be resubscribed');
    expect(await suppressionsOf(ctx.organizationId)).toMatchObject([
      { address: 'hal@example.com', reason: 'hard_bounce' },
    ]);
    // Unsubscribing from the page does not weaken the bounce either.
    await post(bouncedPrefs, 'subscribed=no');
    expect(await suppressionsOf(ctx.organizationId)).toMatchObject([
      { address: 'hal@example.com', reason: 'hard_bounce' },
    ]);
  });

  /** Request options carrying a session of `organizationId`, as a Bearer access token. */
  const sessionOf = async (organizationId: string) => {
    const { token } = await signAccessToken({ userId: newId(), organizationId, role: 'viewer' }, jwtKey, 300);
    return { headers: { authorization: `Bearer ${token}` } };
  };

  it('/outbox lists mail kept by the local outbox and shows it escaped, its HTML sandboxed', async () => {
    const { ctx, marketing } = await setUp({ smtp: false });
    const contactId = await seedContact(env.services, ctx.organizationId, {
      email: 'ivy@example.com',
      firstName: '<img src=x onerror=alert(1)>',
    });
    const message = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: marketing.id,
        contactId,
        idempotencyKey: newId(),
      }),
    );
    await drain(engine);
    expect(smtp.messages).toEqual([]);
    const [stored] = await env.handle.rows<{ seq: number }>(
      sql`select seq from delivery.local_outbox where message_id = ${message.id}`,
    );
    expect(stored).toBeDefined();
    expect((await messageRow(message.id)).status).toBe('sent');
    const session = await sessionOf(ctx.organizationId);

    const list = await fetch(`${http.url}/outbox`, session);
    expect(list.status).toBe(200);
    const listed = await list.text();
    expect(listed).toContain(`/outbox?id=${stored!.seq}`);
    expect(listed).toContain('Deals &#60;b&#62;now&#60;/b&#62; &#38; more for &#60;img src=x onerror=alert(1)&#62;');
    expect(listed).not.toContain('<img src=x');

    const detail = await fetch(`${http.url}/outbox?id=${stored!.seq}`, session);
    const shown = await detail.text();
    expect(detail.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(shown).toContain('ivy@example.com');
    expect(shown).toContain(`X-Mauntic-Message: ${message.id}`);
    expect(shown).toContain('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    expect(shown).toContain('Hello &#60;img src=x onerror=alert(1)&#62;, deals for you.');
    expect(shown).not.toContain('<img src=x');
    expect(shown).toContain(`<iframe sandbox src="/outbox/html?id=${stored!.seq}"`);

    const html = await fetch(`${http.url}/outbox/html?id=${stored!.seq}`, session);
    expect(html.status).toBe(200);
    const csp = html.headers.get('content-security-policy') ?? '';
    expect(csp.split(';').map((d) => d.trim())).toEqual(expect.arrayContaining(['sandbox', "default-src 'none'"]));
    expect(csp).not.toContain('allow-scripts');
    expect(await html.text()).toContain('deals for you');
    expect((await fetch(`${http.url}/outbox?id=999999999`, session)).status).toBe(404);
  });

  it('/outbox shows mail only to a session of its organization; bad ids are 404, never a server error', async () => {
    const { ctx, marketing } = await setUp({ smtp: false });
    const message = unwrap(
      await env.services.sendMessage(ctx, 'email', {
        templateId: marketing.id,
        to: 'jo@example.com',
        idempotencyKey: newId(),
      }),
    );
    await drain(engine);
    const [stored] = await env.handle.rows<{ seq: number }>(
      sql`select seq from delivery.local_outbox where message_id = ${message.id}`,
    );
    const own = `/outbox?id=${stored!.seq}`;

    // No session, a forged one, another key's: the sign-in form, and not a word of the mail.
    const forged = { headers: { authorization: 'Bearer not.a.token' } };
    const otherKey = await signAccessToken(
      { userId: newId(), organizationId: ctx.organizationId, role: 'owner' },
      randomBytes(32),
      300,
    );
    for (const init of [{}, forged, { headers: { cookie: `mauntic_outbox=${otherKey.token}` } }]) {
      for (const path of ['/outbox', own, `/outbox/html?id=${stored!.seq}`]) {
        const response = await fetch(`${http.url}${path}`, init);
        expect(response.status, path).toBe(401);
        const body = await response.text();
        expect(body).toContain('<form method="post" action="/outbox/login">');
        expect(body).not.toContain('jo@example.com');
        expect(body).not.toContain('Deals');
      }
    }

    // Another organization's session sees none of it.
    const other = await sessionOf(newOrg().organizationId);
    const otherList = await (await fetch(`${http.url}/outbox`, other)).text();
    expect(otherList).not.toContain('jo@example.com');
    expect(otherList).not.toContain(own);
    expect((await fetch(`${http.url}${own}`, other)).status).toBe(404);
    expect((await fetch(`${http.url}/outbox/html?id=${stored!.seq}`, other)).status).toBe(404);

    // The session's own organization reads it, from the cookie as from the header.
    const session = await sessionOf(ctx.organizationId);
    const cookie = { headers: { cookie: `theme=dark; mauntic_outbox=${session.headers.authorization.slice(7)}` } };
    expect(await (await fetch(`${http.url}/outbox`, cookie)).text()).toContain('jo@example.com');
    expect((await fetch(`${http.url}${own}`, session)).status).toBe(200);

    for (const id of ['99999999999999999999', '9223372036854775808', 'abc', '-1', '0', '1.5', '1e3', '']) {
      const detail = await fetch(`${http.url}/outbox?id=${id}`, session);
      expect(detail.status, `id=${id}`).toBe(404);
      const html = await fetch(`${http.url}/outbox/html?id=${id}`, session);
      expect(html.status, `html id=${id}`).toBe(404);
    }
    const paged = await fetch(`${http.url}/outbox?before=99999999999999999999`, session);
    expect(paged.status).toBe(200);
  });
});
