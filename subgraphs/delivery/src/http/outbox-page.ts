// Embedded mode's outbox: the email the platform sent without an email provider, readable in a
// browser by the people of the organization that sent it — the list, and per message its rendered
// HTML (sandboxed), text part and headers. A request carries its session as an access token, in
// `Authorization: Bearer` or in a cookie the sign-in form sets (HttpOnly, SameSite=Strict, scoped
// to /outbox); without one it gets the sign-in form and no mail.
import { anonymousContext, type DomainError, newId, type RequestContext, type Result } from '@mauntic/kernel';
import { type HttpHandler, type HttpRequest, type HttpResponse, verifyAccessToken } from '@mauntic/platform';
import { LOCAL_OUTBOX_PAGE } from '../app/local-outbox-reader.ts';
import type { DeliveryServices } from '../app/services.ts';
import { escapeHtml, page } from './page.ts';

export interface OutboxAccess {
  /** The organization whose mail the request may read; undefined when it carries no valid session. */
  authenticate(req: HttpRequest): Promise<string | undefined>;
  /** Identity's logIn use case, called in-process by the sign-in form. */
  logIn(
    ctx: RequestContext,
    input: { email: string; password: string },
  ): Promise<Result<{ accessToken: string; accessTokenExpiresAt: Date }, DomainError>>;
}

const OUTBOX_COOKIE = 'mauntic_outbox';

function cookieOf(req: HttpRequest, name: string): string | undefined {
  for (const part of String(req.headers.cookie ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** Authenticates with the access token of `Authorization: Bearer`, else of the outbox cookie. */
export function accessTokenAuthenticator(jwtKey: Uint8Array): OutboxAccess['authenticate'] {
  return async (req) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
    const token = bearer ?? cookieOf(req, OUTBOX_COOKIE);
    if (!token) return undefined;
    const check = await verifyAccessToken(token, jwtKey);
    return check.ok ? check.claims.organizationId : undefined;
  };
}

const PAGE_CSP =
  "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; form-action 'self'; frame-ancestors 'none'";

const respond = (status: number, body: string, csp = PAGE_CSP): HttpResponse => ({
  status,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': csp,
    'cache-control': 'no-store, private',
    'referrer-policy': 'no-referrer',
  },
  body,
});

const notFound = (): HttpResponse => ({
  status: 404,
  headers: { 'content-type': 'text/plain', 'cache-control': 'no-store' },
  body: 'no such message',
});

/** A message's number in the outbox: digits that fit a bigint column and a JS number, else undefined. */
function seqOf(value: string | null): number | undefined {
  if (!value || !/^[1-9]\d{0,15}$/.test(value)) return undefined;
  const seq = Number(value);
  return Number.isSafeInteger(seq) ? seq : undefined;
}

const signInPage = (status: number, note = '') =>
  respond(
    status,
    page(
      'Outbox: sign in',
      `${note ? `<p>${escapeHtml(note)}</p>` : ''}<p>Sign in to read the mail your organization sent.</p>
       <form method="post" action="/outbox/login">
         <p><label>Email <input type="email" name="email" autocomplete="username" required></label></p>
         <p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
         <p><button type="submit">Sign in</button></p>
       </form>`,
    ),
  );

/** Runs `handler` for a signed-in request; anyone else gets the sign-in form. */
function signedIn(
  access: OutboxAccess,
  handler: (req: HttpRequest, organizationId: string) => Promise<HttpResponse>,
): HttpHandler {
  return async (req) => {
    const organizationId = await access.authenticate(req);
    return organizationId ? handler(req, organizationId) : signInPage(401);
  };
}

export function outboxRoutes(services: DeliveryServices, access: OutboxAccess): Record<string, HttpHandler> {
  return {
    '/outbox': signedIn(access, async (req, organizationId) => {
      const params = new URLSearchParams(req.search);
      if (params.has('id')) return messagePage(services, organizationId, seqOf(params.get('id')));
      return listPage(services, organizationId, seqOf(params.get('before')));
    }),
    '/outbox/html': signedIn(access, async (req, organizationId) => {
      const seq = seqOf(new URLSearchParams(req.search).get('id'));
      const m = seq === undefined ? undefined : await services.getLocalOutboxMessage(organizationId, seq);
      if (!m) return notFound();
      // The message's own HTML, sandboxed even when opened outside the frame (an opaque origin: no
      // scripts, forms or access to this origin), and no requests to tracking pixels.
      return respond(
        200,
        m.html,
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'self'",
      );
    }),
    '/outbox/login': logIn(services, access),
  };
}

async function messagePage(services: DeliveryServices, organizationId: string, seq: number | undefined) {
  const m = seq === undefined ? undefined : await services.getLocalOutboxMessage(organizationId, seq);
  if (!m) return notFound();
  const headers = Object.entries(m.headers)
    .map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`)
    .join('\n');
  return respond(
    200,
    page(
      m.subject,
      `<p><a href="/outbox">&larr; Outbox</a></p>
       <table><tr><th>From</th><td>${escapeHtml(m.fromAddress)}</td></tr>
       <tr><th>To</th><td>${escapeHtml(m.toAddress)}</td></tr>
       <tr><th>Date</th><td>${m.createdAt.toISOString()}</td></tr></table>
       <h2>HTML</h2><iframe sandbox src="/outbox/html?id=${m.seq}" title="HTML part"></iframe>
       <h2>Text</h2><pre>${escapeHtml(m.text)}</pre>
       <h2>Headers</h2><pre>${headers}</pre>`,
    ),
  );
}

async function listPage(services: DeliveryServices, organizationId: string, before: number | undefined) {
  const rows = await services.listLocalOutbox(organizationId, before ? { before } : {});
  const list = rows
    .map(
      (m) =>
        `<tr><td><a href="/outbox?id=${m.seq}">${escapeHtml(m.subject || '(no subject)')}</a></td>
         <td>${escapeHtml(m.toAddress)}</td><td>${m.createdAt.toISOString()}</td></tr>`,
    )
    .join('');
  const more =
    rows.length === LOCAL_OUTBOX_PAGE ? `<p><a href="/outbox?before=${rows.at(-1)!.seq}">Older &rarr;</a></p>` : '';
  return respond(
    200,
    page(
      'Outbox',
      rows.length
        ? `<p>Every email sent while no email provider is set up lands here.</p>
           <table><tr><th>Subject</th><th>To</th><th>Sent</th></tr>${list}</table>${more}`
        : '<p>No messages yet. Send one with the sendEmail mutation and it shows up here.</p>',
    ),
  );
}

/**
 * The sign-in form's POST: identity checks the password, and the access token it issues goes into
 * the outbox cookie. Only a form of this origin may post it (the browser's Origin and
 * Sec-Fetch-Site say where a form came from), so another site cannot sign a visitor in as someone else.
 */
function logIn(services: DeliveryServices, access: OutboxAccess): HttpHandler {
  return async (req) => {
    if (req.method !== 'POST') return { status: 405, headers: { allow: 'POST' } };
    if (!sameOrigin(req)) return { status: 403, headers: { 'content-type': 'text/plain' }, body: 'cross-site sign-in' };
    const form = new URLSearchParams(req.body.toString('utf8'));
    const session = await access.logIn(anonymousContext(newId()), {
      email: form.get('email') ?? '',
      password: form.get('password') ?? '',
    });
    if (!session.ok) return signInPage(401, 'Wrong email or password.');
    const { accessToken, accessTokenExpiresAt } = session.value;
    const maxAge = Math.max(0, Math.floor((accessTokenExpiresAt.getTime() - Date.now()) / 1000));
    const secure = services.deps.publicBaseUrl.startsWith('https:') ? '; Secure' : '';
    return {
      status: 303,
      headers: {
        location: '/outbox',
        'set-cookie': `${OUTBOX_COOKIE}=${accessToken}; Path=/outbox; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`,
        'cache-control': 'no-store',
      },
    };
  };
}

function sameOrigin(req: HttpRequest): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
