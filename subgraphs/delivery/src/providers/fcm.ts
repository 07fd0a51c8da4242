// Push through the FCM HTTP v1 API: POST /v1/projects/{projectId}/messages:send with an OAuth2
// access token from the service account (JWT bearer grant, RFC 7523). Written on fetch rather than
// firebase-admin because firebase-admin hard-codes https://fcm.googleapis.com and offers no
// endpoint override, so it could neither be pointed at a regional/test endpoint nor be tested
// against a local server speaking the documented wire format.
import { createSign } from 'node:crypto';
import { describe, errorFromStatus, networkError } from './errors';
import { type Provider, ProviderError, type PushMessage, type SendOptions, type SendResult } from './types';

export interface FcmOptions {
  projectId: string;
  clientEmail: string;
  /** PEM private key of the service account. */
  privateKey: string;
  /** API origin; defaults to https://fcm.googleapis.com. */
  baseUrl?: string;
  /** OAuth2 token endpoint; defaults to https://oauth2.googleapis.com/token. */
  tokenUrl?: string;
  timeoutMs?: number;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const FCM_ERROR_TYPE = 'type.googleapis.com/google.firebase.fcm.v1.FcmError';

/** FCM error codes that mean the token or the message is bad: retrying cannot help. */
const PERMANENT_FCM_CODES = new Set(['UNREGISTERED', 'INVALID_ARGUMENT', 'SENDER_ID_MISMATCH']);

interface GoogleError {
  error?: { code?: number; message?: string; status?: string; details?: { '@type'?: string; errorCode?: string }[] };
}

export function fcmError(status: number, body: GoogleError): ProviderError {
  const detail = body.error?.details?.find((d) => d['@type'] === FCM_ERROR_TYPE)?.errorCode;
  const code = detail ?? body.error?.status;
  const message = body.error?.message ?? '';
  if (code && PERMANENT_FCM_CODES.has(code)) {
    // UNREGISTERED: the app was uninstalled; the caller should drop the token.
    return new ProviderError(`FCM ${code}: ${message}`, false, code.toLowerCase());
  }
  return errorFromStatus(status, `${code ?? ''} ${message}`.trim(), code?.toLowerCase());
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

export function createFcmProvider(options: FcmOptions): Provider<PushMessage> {
  const baseUrl = (options.baseUrl ?? 'https://fcm.googleapis.com').replace(/\/+$/, '');
  const tokenUrl = options.tokenUrl ?? 'https://oauth2.googleapis.com/token';
  const timeoutMs = options.timeoutMs ?? 15_000;
  let cached: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
    const claims = base64url(
      JSON.stringify({ iss: options.clientEmail, scope: SCOPE, aud: tokenUrl, iat: now, exp: now + 3600 }),
    );
    let signature: string;
    try {
      signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(options.privateKey, 'base64url');
    } catch (error) {
      throw new ProviderError(
        `FCM: cannot sign with the private key: ${describe(error)}`,
        false,
        'invalid_credentials',
      );
    }
    let response: Response;
    try {
      response = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: `${header}.${claims}.${signature}`,
        }),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw networkError(error);
    }
    const body = (await response.json().catch(() => ({}))) as { access_token?: string; expires_in?: number };
    if (!response.ok || !body.access_token) {
      // A refused grant is the account's fault: retryable so a failover provider can take over.
      throw new ProviderError(`FCM token endpoint answered HTTP ${response.status}`, true, 'auth_failed');
    }
    // Renew a minute early so a token never expires in flight.
    cached = { token: body.access_token, expiresAt: Date.now() + ((body.expires_in ?? 3600) - 60) * 1000 };
    return body.access_token;
  }

  async function accessToken(): Promise<string> {
    if (cached && cached.expiresAt > Date.now()) return cached.token;
    // Concurrent sends share one token request.
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  return {
    kind: 'fcm',
    async send(message: PushMessage, sendOptions?: SendOptions): Promise<SendResult> {
      const token = await accessToken();
      const payload = {
        message: {
          token: message.token,
          notification: {
            title: message.title,
            body: message.body,
            ...(message.imageUrl ? { image: message.imageUrl } : {}),
          },
          data: { ...message.data, mauntic_message_id: message.messageId },
        },
      };
      let response: Response;
      try {
        sendOptions?.onHandedOver?.();
        response = await fetch(`${baseUrl}/v1/projects/${encodeURIComponent(options.projectId)}/messages:send`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json; charset=utf-8' },
          body: JSON.stringify(payload),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        throw networkError(error);
      }
      const body = (await response.json().catch(() => ({}))) as { name?: string } & GoogleError;
      if (response.ok) return { providerMessageId: body.name ?? null };
      if (response.status === 401) cached = undefined;
      throw fcmError(response.status, body);
    },
    async close() {},
  };
}
