// Embedded mode's outbox: every email the platform sent without an email provider, readable in a
// browser — the list, and per message its rendered HTML (sandboxed), text part and headers.
import type { DatabaseHandle, HttpHandler, HttpResponse } from '@mauntic/platform';
import { localOutboxMessage, recentLocalOutbox } from '../app/local-outbox.ts';
import { escapeHtml, page } from './page.ts';

const respond = (
  body: string,
  csp = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'",
): HttpResponse => ({
  status: 200,
  headers: { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp, 'cache-control': 'no-store' },
  body,
});

export function outboxRoutes(handle: DatabaseHandle): Record<string, HttpHandler> {
  return {
    '/outbox': async (req) => {
      const params = new URLSearchParams(req.search);
      const id = Number(params.get('id'));
      if (Number.isInteger(id) && id > 0) {
        const m = await localOutboxMessage(handle, id);
        if (!m) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'no such message' };
        const headers = Object.entries(m.headers)
          .map(([k, v]) => `${escapeHtml(k)}: ${escapeHtml(v)}`)
          .join('\n');
        return respond(
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
      const before = Number(params.get('before'));
      const rows = await recentLocalOutbox(handle, Number.isInteger(before) && before > 0 ? { before } : {});
      const list = rows
        .map(
          (m) =>
            `<tr><td><a href="/outbox?id=${m.seq}">${escapeHtml(m.subject || '(no subject)')}</a></td>
             <td>${escapeHtml(m.toAddress)}</td><td>${m.createdAt.toISOString()}</td></tr>`,
        )
        .join('');
      const more = rows.length === 50 ? `<p><a href="/outbox?before=${rows.at(-1)!.seq}">Older &rarr;</a></p>` : '';
      return respond(
        page(
          'Outbox',
          rows.length
            ? `<p>Every email sent while no email provider is set up lands here.</p>
               <table><tr><th>Subject</th><th>To</th><th>Sent</th></tr>${list}</table>${more}`
            : '<p>No messages yet. Send one with the sendEmail mutation and it shows up here.</p>',
        ),
      );
    },
    '/outbox/html': async (req) => {
      const m = await localOutboxMessage(handle, Number(new URLSearchParams(req.search).get('id')));
      if (!m) return { status: 404, headers: { 'content-type': 'text/plain' }, body: 'no such message' };
      // The message's own HTML, sandboxed even when opened outside the frame (an opaque origin: no
      // scripts, forms or access to this origin), and no requests to tracking pixels.
      return respond(
        m.html,
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'none'; frame-ancestors 'self'",
      );
    },
  };
}
