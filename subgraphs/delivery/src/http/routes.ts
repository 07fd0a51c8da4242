// Delivery's public HTTP endpoints, served at PUBLIC_BASE_URL: the open pixel, click redirects,
// the unsubscribe page with RFC 8058 one-click POST, the preference page, provider webhooks, and
// (embedded mode) the browser outbox at /outbox.
import type { HttpHandler, HttpRequest, HttpResponse } from '@mauntic/platform';
import type { DeliveryServices } from '../app/services.ts';
import type { WebhookKind, WebhookOptions } from '../app/webhooks.ts';
import { DEFAULT_SNS_CERTIFICATE_HOST } from '../inbound/index.ts';
import { type OutboxAccess, outboxRoutes } from './outbox-page.ts';
import { escapeHtml, page } from './page.ts';

export { accessTokenAuthenticator, type OutboxAccess } from './outbox-page.ts';

export interface DeliveryRoutesOptions extends WebhookOptions {
  /** Serve /outbox (embedded mode), to the signed-in people of each organization. */
  outbox?: OutboxAccess;
}

export function deliveryRoutes(
  services: DeliveryServices,
  options: DeliveryRoutesOptions = {},
): Record<string, HttpHandler> {
  const routes: Record<string, HttpHandler> = {
    '/t/open': openPixel(services),
    '/t/click': clickRedirect(services),
    '/t/unsubscribe': unsubscribePage(services),
    '/t/preferences': preferencesPage(services),
    '/webhooks/ses': providerWebhook(services, 'ses', options),
    '/webhooks/sendgrid': providerWebhook(services, 'sendgrid', options),
    '/webhooks/mailgun': providerWebhook(services, 'mailgun', options),
    '/webhooks/twilio': providerWebhook(services, 'twilio', options),
  };
  return options.outbox ? { ...routes, ...outboxRoutes(services, options.outbox) } : routes;
}

/** A 1x1 transparent GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_STORE = { 'cache-control': 'no-store, private', 'referrer-policy': 'no-referrer' };

const param = (req: HttpRequest, name: string) => new URLSearchParams(req.search).get(name);
const formField = (req: HttpRequest, name: string) => new URLSearchParams(req.body.toString('utf8')).get(name);
const visitOf = (req: HttpRequest) => ({
  userAgent: String(req.headers['user-agent'] ?? ''),
  ip:
    String(req.headers['x-forwarded-for'] ?? '')
      .split(',')[0]!
      .trim() || req.raw.socket.remoteAddress,
});

const html = (status: number, body: string): HttpResponse => ({
  status,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    ...NO_STORE,
  },
  body,
});

const linkNotFound = (what: string) => html(404, page('Link not found', `<p>This ${what} is not valid.</p>`));

/** The open pixel: recorded when the token is good, served whatever it is. */
function openPixel(services: DeliveryServices): HttpHandler {
  return async (req) => {
    await services.trackOpen(param(req, 't'), visitOf(req));
    return { status: 200, headers: { 'content-type': 'image/gif', ...NO_STORE }, body: PIXEL };
  };
}

function clickRedirect(services: DeliveryServices): HttpHandler {
  return async (req) => {
    const target = await services.trackClick(param(req, 't'), visitOf(req), param(req, 'l'));
    if (!target) return linkNotFound('link');
    return { status: 302, headers: { location: target, ...NO_STORE } };
  };
}

/**
 * GET only shows the page: link scanners follow links, and must not unsubscribe anyone. POST is
 * the page's button, or RFC 8058's one-click `List-Unsubscribe=One-Click` from the mail client.
 */
function unsubscribePage(services: DeliveryServices): HttpHandler {
  return async (req) => {
    const token = param(req, 't');
    return req.method === 'POST'
      ? unsubscribe(services, token, formField(req, 'List-Unsubscribe') === 'One-Click')
      : confirmUnsubscribe(services, token);
  };
}

async function unsubscribe(services: DeliveryServices, token: string | null, oneClick: boolean): Promise<HttpResponse> {
  const message = await services.unsubscribe(token, oneClick);
  if (!message) return linkNotFound('unsubscribe link');
  // One-click: no cookie, no page, the mail client only reads the status.
  if (oneClick) return { status: 200, headers: { 'content-type': 'text/plain', ...NO_STORE }, body: 'unsubscribed' };
  return html(200, page('Unsubscribed', `<p>${escapeHtml(message.address)} will get no more of these messages.</p>`));
}

async function confirmUnsubscribe(services: DeliveryServices, token: string | null): Promise<HttpResponse> {
  const prefs = await services.preferencesOf(token);
  if (!prefs) return linkNotFound('unsubscribe link');
  return html(
    200,
    page(
      'Unsubscribe',
      `<p>Stop sending marketing messages to <b>${escapeHtml(prefs.message.address)}</b>?</p>
           <form method="post"><button type="submit">Unsubscribe</button></form>`,
    ),
  );
}

/** Shows whether the recipient is subscribed; a POST changes it first. */
function preferencesPage(services: DeliveryServices): HttpHandler {
  return async (req) => {
    const token = param(req, 't');
    if (req.method === 'POST') {
      const choice = formField(req, 'subscribed');
      if (choice === 'no') await services.unsubscribe(token, false);
      else if (choice === 'yes') await services.resubscribe(token);
    }
    const prefs = await services.preferencesOf(token);
    if (!prefs) return linkNotFound('preference link');
    return html(200, preferencesHtml(prefs));
  };
}

type Preferences = NonNullable<Awaited<ReturnType<DeliveryServices['preferencesOf']>>>;

function preferencesHtml(prefs: Preferences): string {
  // Only an unsubscribe can be undone here, never a bounce or a complaint.
  const blocked = prefs.reason && prefs.reason !== 'unsubscribe';
  return page(
    'Your preferences',
    `<p>${escapeHtml(prefs.message.channel)} to <b>${escapeHtml(prefs.message.address)}</b>:
           ${prefs.subscribed ? 'subscribed' : `not subscribed (${escapeHtml(prefs.reason ?? '')})`}</p>
           ${
             blocked
               ? '<p>This address cannot be resubscribed here.</p>'
               : `<form method="post">
                  <label><input type="radio" name="subscribed" value="yes" ${prefs.subscribed ? 'checked' : ''}> Subscribed</label>
                  <label><input type="radio" name="subscribed" value="no" ${prefs.subscribed ? '' : 'checked'}> Unsubscribed</label>
                  <button type="submit">Save</button></form>`
           }`,
  );
}

/** A provider's webhook, at `/webhooks/<kind>?provider=<id>`: verified, applied, counted. */
function providerWebhook(services: DeliveryServices, kind: WebhookKind, options: WebhookOptions): HttpHandler {
  return async (req) => {
    if (req.method !== 'POST') return { status: 405, headers: { allow: 'POST' } };
    const providerId = param(req, 'provider');
    if (!providerId || !/^[0-9a-f-]{36}$/i.test(providerId)) return { status: 404 };
    // The URL the provider signed (Twilio signs it) is the public one, not the one we are served at.
    const url = `${services.deps.publicBaseUrl}${req.path}${req.search}`;
    const result = await services.receiveWebhook(
      kind,
      providerId,
      { headers: req.headers, body: req.body, url },
      options,
    );
    if (!result.ok) {
      const { code, message } = result.error;
      const status = code === 'NOT_FOUND' ? 404 : code === 'WEBHOOK_PAYLOAD_INVALID' ? 400 : 401;
      return { status, headers: { 'content-type': 'text/plain' }, body: message };
    }
    if (result.value.confirmUrl) {
      const refused = await confirmSnsSubscription(result.value.confirmUrl, options);
      if (refused) return refused;
    }
    return { status: 200, headers: { 'content-type': 'application/json' }, body: JSON.stringify(result.value) };
  };
}

/** GETs an SNS SubscribeURL, only on an SNS host over HTTPS; returns the answer when that fails. */
async function confirmSnsSubscription(confirmUrl: string, options: WebhookOptions): Promise<HttpResponse | null> {
  const host = new URL(confirmUrl).hostname;
  if (!(options.certificateHost ?? DEFAULT_SNS_CERTIFICATE_HOST).test(host) || !confirmUrl.startsWith('https://'))
    return { status: 400, body: 'SubscribeURL is not an SNS endpoint' };
  const confirmed = await fetch(confirmUrl);
  return confirmed.ok ? null : { status: 502, body: `SNS confirmation answered ${confirmed.status}` };
}
