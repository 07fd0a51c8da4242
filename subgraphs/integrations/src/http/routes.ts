// The Segment-compatible HTTP Tracking API: POST /v1/identify, /v1/track, /v1/page, /v1/screen,
// /v1/group, /v1/alias, /v1/batch (and /v1/import, its older name). Answers as Segment does:
// 200 {"success":true} once the calls are committed, 400 for oversize or malformed bodies, and
// 401 for an unknown write key.
import type { HttpHandler, HttpResponse } from '@mauntic/platform';
import type { IntegrationsServices } from '../app/services.ts';
import { SEGMENT_CALLS } from '../domain/segment.ts';

const PATHS = [...SEGMENT_CALLS, 'batch', 'import'] as const;
export const SEGMENT_PATHS: readonly string[] = PATHS.map((p) => `/v1/${p}`);

export function integrationsRoutes(services: IntegrationsServices): Record<string, HttpHandler> {
  return Object.fromEntries(PATHS.map((path) => [`/v1/${path}`, segmentCall(services, path)]));
}

function segmentCall(services: IntegrationsServices, path: string): HttpHandler {
  return async (req): Promise<HttpResponse> => {
    if (req.method !== 'POST')
      return { status: 405, headers: { allow: 'POST', 'content-type': 'application/json' }, body: '{"success":false}' };
    const answer = await services.ingest(path, req.headers.authorization, req.body);
    return {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(answer.body),
    };
  };
}
