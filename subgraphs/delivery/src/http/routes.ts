// Delivery's public HTTP endpoints, served at PUBLIC_BASE_URL: the open pixel, click redirects,
// the unsubscribe page with RFC 8058 one-click POST, the preference page, provider webhooks, and
// (embedded mode) the browser outbox at /outbox.
import type { HttpHandler, HttpRequest, HttpResponse } from '@mauntic/platform';
import type { DeliveryServices } from '../app/services.ts';
import { receiveWebhook, type WebhookKind, type WebhookOptions } from '../app/webhooks.ts';
import { DEFAULT_SNS_CERTIFICATE_HOST } from '../inbound/index.ts';
import { outboxRoutes } from './outbox-page.ts';
import { escapeHtml, page } from './page.ts';

/** A 1x1 transparent GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_STORE = { 'cache-control': 'no-store, private', 'referrer-policy': 'no-referrer' };

const param = (req: HttpRequest, name: string) => new URLSearchParams(req.search).get(name);
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

export interface DeliveryRoutesOptions extends WebhookOptions {
  /** Serve /outbox (embedded mode only: it shows every organization's local messages). */
  outbox?: boolean;
}

export function deliveryRoutes(
  services: DeliveryServices,
  options: DeliveryRoutesOptions = {},
): Record<string, HttpHandler> {
  const deps = services.deps;
  const webhook =
    (kind: WebhookKind): HttpHandler =>
    async (req): Promise<HttpResponse> => {
      if (req.method !== 'POST') return { status: 405, headers: { allow: 'POST' } };
      const providerId = param(req, 'provider');
      if (!providerId || !/^[0-9a-f-]{36}$/i.test(providerId)) return { status: 404 };
      const url = `${deps.publicBaseUrl}${req.path}${req.search}`;
      const result = await receiveWebhook(
        deps,
        kind,
        providerId,
        { headers: req.headers, body: req.body, url },
        options,
      );
      if (!result.ok) {
        const status =
          result.error.code === 'NOT_FOUND' ? 404 : result.error.code === 'WEBHOOK_PAYLOAD_INVALID' ? 400 : 401;
        return { status, headers: { 'content-type': 'text/plain' }, body: result.error.message };
      }
      const confirm = result.value.confirmUrl;
      if (confirm) {
        const host = new URL(confirm).hostname;
        if (!(options.certificateHost ?? DEFAULT_SNS_CERTIFICATE_HOST).test(host) || !confirm.startsWith('https://'))
          return { status: 400, body: 'SubscribeURL is not an SNS endpoint' };
        const confirmed = await fetch(confirm);
        if (!confirmed.ok) return { status: 502, body: `SNS confirmation answered ${confirmed.status}` };
      }
      return {
        status: 200,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(result.value),
      };
    };

  const routes: Record<string, HttpHandler> = {
    '/t/open': async (req) => {
      await services.trackOpen(param(req, 't'), visitOf(req));
      return { status: 200, headers: { 'content-type': 'image/gif', ...NO_STORE }, body: PIXEL };
    },
    '/t/click': async (req) => {
      const target = await services.trackClick(param(req, 't'), visitOf(req), param(req, 'l'));
      if (!target) return html(404, page('Link not found', '<p>This link is not valid.</p>'));
      return { status: 302, headers: { location: target, ...NO_STORE } };
    },
    '/t/unsubscribe': async (req) => {
      const token = param(req, 't');
      if (req.method === 'POST') {
        // RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click`; no cookie, no page.
        const form = new URLSearchParams(req.body.toString('utf8'));
        const oneClick = form.get('List-Unsubscribe') === 'One-Click';
        const message = await services.unsubscribe(token, oneClick);
        if (!message) return html(404, page('Link not found', '<p>This unsubscribe link is not valid.</p>'));
        return oneClick
          ? { status: 200, headers: { 'content-type': 'text/plain', ...NO_STORE }, body: 'unsubscribed' }
          : html(
              200,
              page('Unsubscribed', `<p>${escapeHtml(message.address)} will get no more of these messages.</p>`),
            );
      }
      // GET only shows the page: link scanners follow links, and must not unsubscribe anyone.
      const prefs = await services.preferencesOf(token);
      if (!prefs) return html(404, page('Link not found', '<p>This unsubscribe link is not valid.</p>'));
      return html(
        200,
        page(
          'Unsubscribe',
          `<p>Stop sending marketing messages to <b>${escapeHtml(prefs.message.address)}</b>?</p>
           <form method="post"><button type="submit">Unsubscribe</button></form>`,
        ),
      );
    },
    '/t/preferences': async (req) => {
      const token = param(req, 't');
      if (req.method === 'POST') {
        const choice = new URLSearchParams(req.body.toString('utf8')).get('subscribed');
        if (choice === 'no') await services.unsubscribe(token, false);
        else if (choice === 'yes') await services.resubscribe(token);
      }
      const prefs = await services.preferencesOf(token);
      if (!prefs) return html(404, page('Link not found', '<p>This preference link is not valid.</p>'));
      const blocked = prefs.reason && prefs.reason !== 'unsubscribe';
      return html(
        200,
        page(
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
        ),
      );
    },
    '/webhooks/ses': webhook('ses'),
    '/webhooks/sendgrid': webhook('sendgrid'),
    '/webhooks/mailgun': webhook('mailgun'),
    '/webhooks/twilio': webhook('twilio'),
  };
  return options.outbox ? { ...routes, ...outboxRoutes(deps.handle) } : routes;
}
