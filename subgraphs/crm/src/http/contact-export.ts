// The download behind a contact export link: GET CONTACT_EXPORT_PATH?token=..., streamed as CSV
// with chunked transfer encoding, a page of contacts at a time, never the whole file in memory.
import { Readable } from 'node:stream';
import type { HttpHandler, HttpResponse } from '@mauntic/platform';
import { CONTACT_EXPORT_PATH } from '../app/export-contacts.ts';
import type { CrmServices } from '../app/services.ts';

const STATUS: Record<string, number> = { unauthenticated: 401, not_found: 404, validation: 400 };

const problem = (status: number, code: string, message: string): HttpResponse => ({
  status,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify({ error: { code, message } }),
});

export function contactExportRoute(services: CrmServices): HttpHandler {
  return async (req) => {
    if (req.method !== 'GET') return { ...problem(405, 'METHOD_NOT_ALLOWED', 'use GET'), headers: { allow: 'GET' } };
    const token = new URLSearchParams(req.search).get('token');
    if (!token) return problem(401, 'UNAUTHENTICATED', 'the token query parameter is required');
    const opened = await services.streamContactExport(token);
    if (!opened.ok) return problem(STATUS[opened.error.type] ?? 400, opened.error.code, opened.error.message);
    return {
      status: 200,
      headers: {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="${opened.value.filename}"`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
      body: Readable.from(opened.value.lines, { objectMode: false }),
    };
  };
}

/** The routes the CRM subgraph serves besides /graphql. */
export const crmHttpRoutes = (services: CrmServices): Record<string, HttpHandler> => ({
  [CONTACT_EXPORT_PATH]: contactExportRoute(services),
});
