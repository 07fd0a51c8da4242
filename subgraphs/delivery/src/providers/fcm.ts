// Push through Firebase Cloud Messaging with firebase-admin: one Firebase app per provider whose
// `messaging().send()` posts to the FCM HTTP v1 API, with OAuth2 access tokens from the service
// account (JWT bearer grant, RFC 7523) obtained by google-auth-library, the library
// firebase-admin's own `cert()` uses.
//
// `endpoint` sends every request (token and send) to another origin: a private proxy, or a local
// server that speaks the documented wire format, which is how the tests run it. Neither library has
// an endpoint setting, only an HTTP agent, so the agent makes that connection. (The credential is
// built here rather than with `cert(account, agent)`, which does not hand the agent to its token
// request in firebase-admin 13.)
import { randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { OutboundGuard } from '@mauntic/platform';
import { type App, type Credential, deleteApp, initializeApp } from 'firebase-admin/app';
import { getMessaging } from 'firebase-admin/messaging';
import { JWT } from 'google-auth-library';
import { addressRefused, describe } from './errors.ts';
import { type Provider, ProviderError, type PushMessage, type SendOptions, type SendResult } from './types.ts';

export interface FcmOptions {
  projectId: string;
  clientEmail: string;
  /** PEM private key of the service account. */
  privateKey: string;
  /** Origin every request goes to instead of Google's hosts (the paths stay as the SDK writes them). */
  endpoint?: string;
  /** Where `endpoint` may lead, checked before each send and on every connection; unchecked without one. */
  outbound?: OutboundGuard;
}

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';

/** FCM errors that mean the token or the message is bad: retrying cannot help. */
const PERMANENT = new Map([
  ['messaging/registration-token-not-registered', 'unregistered'],
  ['messaging/invalid-registration-token', 'invalid_token'],
  ['messaging/invalid-argument', 'invalid_argument'],
  ['messaging/invalid-recipient', 'invalid_argument'],
  ['messaging/invalid-payload', 'invalid_argument'],
  ['messaging/mismatched-credential', 'sender_id_mismatch'],
]);
/** The account's fault, not the message's: retryable, so a failover provider can take over. */
const AUTH = new Set(['app/invalid-credential', 'messaging/third-party-auth-error', 'messaging/authentication-error']);

/** A firebase-admin error as a ProviderError. */
export function fcmError(error: unknown): ProviderError {
  const code = (error as { code?: string }).code ?? '';
  const message = `FCM ${code ? `${code}: ` : ''}${describe(error)}`;
  const permanent = PERMANENT.get(code);
  if (permanent) return new ProviderError(message, false, permanent);
  if (AUTH.has(code)) return new ProviderError(message, true, 'auth_failed');
  if (code === 'app/network-timeout') return new ProviderError(message, true, 'timeout');
  const name = code.split('/')[1]?.replaceAll('-', '_');
  return new ProviderError(message, true, name || 'network');
}

/**
 * An HTTPS agent whose every connection goes to `endpoint` (over TLS only if it is https), through
 * the outbound guard when there is one.
 */
class EndpointAgent extends Agent {
  constructor(
    readonly endpoint: URL,
    private readonly outbound?: OutboundGuard,
  ) {
    super({ keepAlive: true });
  }

  override createConnection(): Socket {
    const { hostname, protocol } = this.endpoint;
    const secure = protocol === 'https:';
    const port = Number(this.endpoint.port || (secure ? 443 : 80));
    const target = { host: hostname, port, ...(secure ? { servername: hostname } : {}) };
    if (this.outbound) return this.outbound.connect(target, secure);
    return secure ? tlsConnect(target) : netConnect(target);
  }
}

export function createFcmProvider(options: FcmOptions): Provider<PushMessage> {
  const agent = options.endpoint ? new EndpointAgent(new URL(options.endpoint), options.outbound) : undefined;
  const account = new JWT({
    email: options.clientEmail,
    key: options.privateKey,
    scopes: [SCOPE],
    ...(agent ? { transporterOptions: { agent } } : {}),
  });
  const credential: Credential = {
    // firebase-admin caches the token and asks again shortly before it expires.
    async getAccessToken() {
      const token = await account.authorize();
      if (!token.access_token) throw new Error('the token endpoint returned no access token');
      const expiresIn = token.expiry_date ? Math.floor((token.expiry_date - Date.now()) / 1000) : 3600;
      return { access_token: token.access_token, expires_in: expiresIn };
    },
  };
  const app: App = initializeApp(
    { credential, projectId: options.projectId, ...(agent ? { httpAgent: agent } : {}) },
    `mauntic-fcm-${randomUUID()}`,
  );
  const messaging = getMessaging(app);

  return {
    kind: 'fcm',
    async send(message: PushMessage, sendOptions?: SendOptions): Promise<SendResult> {
      try {
        // firebase-admin reports a connection the guard refused as a credential or network fault,
        // which would be retried: the endpoint is checked first (and again where it connects).
        if (agent) await options.outbound?.assertPublicHost(agent.endpoint.hostname);
        sendOptions?.onHandedOver?.();
        const name = await messaging.send({
          token: message.token,
          notification: {
            title: message.title,
            body: message.body,
            ...(message.imageUrl ? { imageUrl: message.imageUrl } : {}),
          },
          data: { ...message.data, mauntic_message_id: message.messageId },
        });
        return { providerMessageId: name };
      } catch (error) {
        throw addressRefused(error) ?? fcmError(error);
      }
    },
    async close() {
      await deleteApp(app);
      agent?.destroy();
    },
  };
}
