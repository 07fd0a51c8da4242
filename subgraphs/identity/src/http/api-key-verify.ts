// The route the gateway checks API keys on (cluster mode; embedded calls verifyApiKey in process).
// Only callers holding the internal secret may ask: it answers who a key acts for.
import { type HttpHandler, type HttpResponse, INTERNAL_CONTEXT_HEADER, verifyInternalContext } from '@mauntic/platform';
import { z } from 'zod';
import type { IdentityServices } from '../app/services.ts';

export const API_KEY_VERIFY_PATH = '/internal/api-keys/verify';

const verifyBody = z.object({ key: z.string().max(200) });

const json = (status: number, value: unknown): HttpResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(value),
});

function parseBody(body: Buffer): z.infer<typeof verifyBody> | undefined {
  try {
    const parsed = verifyBody.safeParse(JSON.parse(body.toString('utf8') || '{}'));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined; // not JSON
  }
}

export function apiKeyVerifyRoute(services: IdentityServices, internalKey: Uint8Array): HttpHandler {
  return async (req) => {
    try {
      verifyInternalContext(String(req.headers[INTERNAL_CONTEXT_HEADER] ?? ''), internalKey);
    } catch {
      return json(401, { error: 'unauthorized' });
    }
    const body = parseBody(req.body);
    if (!body) return { status: 400, body: 'expected {"key": "..."}' };
    return json(200, { principal: await services.verifyApiKey(body.key) });
  };
}

/** The routes the identity subgraph serves besides /graphql. */
export const identityHttpRoutes = (
  services: IdentityServices,
  internalKey: Uint8Array,
): Record<string, HttpHandler> => ({
  [API_KEY_VERIFY_PATH]: apiKeyVerifyRoute(services, internalKey),
});
