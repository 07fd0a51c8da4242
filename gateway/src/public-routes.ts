// Public HTTP routes of subgraphs that the gateway passes through in cluster mode, so one public
// address serves the graph, CRM's export downloads and delivery's tracking, unsubscribe and
// webhook endpoints. (Embedded mode mounts the same routes on its one server.)
import { Readable } from 'node:stream';
import type { HttpHandler } from '@mauntic/platform';

export const PUBLIC_ROUTES: readonly { path: string; subgraph: string }[] = [
  { path: '/crm/exports/contacts.csv', subgraph: 'crm' },
  ...[
    '/t/open',
    '/t/click',
    '/t/unsubscribe',
    '/t/preferences',
    '/webhooks/ses',
    '/webhooks/sendgrid',
    '/webhooks/mailgun',
    '/webhooks/twilio',
  ].map((path) => ({ path, subgraph: 'delivery' })),
  // The Segment-compatible ingestion endpoint (integrations/src/http/routes.ts).
  ...['identify', 'track', 'page', 'screen', 'group', 'alias', 'batch', 'import'].map((call) => ({
    path: `/v1/${call}`,
    subgraph: 'integrations',
  })),
];

/** Headers that belong to one connection, not to the request or the response. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'content-length',
  'proxy-authorization',
  'proxy-connection',
]);

/** Forwards the request to `origin` as it came (method, path, query, headers, body) and streams the answer back. */
export function proxyTo(origin: string): HttpHandler {
  return async (req) => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (value === undefined || HOP_BY_HOP.has(name)) continue;
      headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const forwardedFor = req.raw.socket.remoteAddress;
    if (forwardedFor && !headers.has('x-forwarded-for')) headers.set('x-forwarded-for', forwardedFor);
    const response = await fetch(`${origin}${req.path}${req.search}`, {
      method: req.method,
      headers,
      ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: req.body }),
      // A click answers 302: pass it to the browser, never follow it here.
      redirect: 'manual',
    });
    const out: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) out[name] = value;
    });
    return {
      status: response.status,
      headers: out,
      body: response.body ? Readable.fromWeb(response.body as never) : '',
    };
  };
}
