// One webhook POST through the outbound guard: the address is checked when the socket connects
// (after DNS resolution, so a name rebound to a private address fails), redirects are answers like
// any other (never followed), and the whole exchange is cut at the timeout.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { OutboundGuard } from '@mauntic/platform';
import { RESPONSE_EXCERPT_CHARS } from '../../domain/webhook.ts';

export interface PostResult {
  statusCode: number | null;
  latencyMs: number;
  /** The response body's first characters. */
  response: string;
  error: string | null;
}

export type Agents = ReturnType<OutboundGuard['agents']>;

export function postWebhook(
  agents: Agents,
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<PostResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    const settle = (statusCode: number | null, response: string, error: string | null) => {
      clearTimeout(timer);
      resolve({ statusCode, latencyMs: elapsed(), response, error });
    };
    const req = (secure ? httpsRequest : httpRequest)(
      target,
      {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          // The log keeps the first KB; the rest is not worth waiting for.
          if (text.length >= RESPONSE_EXCERPT_CHARS) res.destroy();
        });
        // Postgres text holds no NUL: an answer with one would never be logged.
        const done = () =>
          settle(res.statusCode ?? null, text.slice(0, RESPONSE_EXCERPT_CHARS).replaceAll('\u0000', ''), null);
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on('error', (error) => settle(null, '', error.message));
    req.end(body);
  });
}
