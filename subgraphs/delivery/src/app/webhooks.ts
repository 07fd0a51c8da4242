// Provider webhooks: each provider row has its own URL (`/webhooks/<kind>?provider=<id>`); the
// request is verified with that provider's keys (SNS certificate, SendGrid ECDSA, Mailgun HMAC,
// Twilio signature) before any report in it is applied to the provider's organization.
import { fail, NotFoundError, ok, type Result } from '@mauntic/kernel';
import { and, eq } from 'drizzle-orm';
import { providers } from '../db/schema.ts';
import { InvalidSignatureError, type WebhookError } from '../domain/errors.ts';
import {
  cachedCertificateFetcher,
  type Feedback,
  parseMailgunWebhook,
  parseSendgridWebhook,
  parseSnsWebhook,
  parseTwilioWebhook,
  type WebhookRequest,
} from '../inbound/index.ts';
import type { DeliveryDeps } from './deps.ts';
import { applyFeedback } from './feedback.ts';
import { openSecrets } from './providers.ts';

export type WebhookKind = 'ses' | 'sendgrid' | 'mailgun' | 'twilio';

export interface WebhookOptions {
  /** Fetches SNS signing certificates (tests serve their own). */
  fetchCertificate?: (url: string) => Promise<string>;
  certificateHost?: RegExp;
}

const defaultFetcher = cachedCertificateFetcher();

export interface WebhookOutcome {
  applied: number;
  unknown: number;
  /** SNS subscription confirmations: the URL to GET to confirm. */
  confirmUrl?: string;
}

export async function receiveWebhook(
  deps: DeliveryDeps,
  kind: WebhookKind,
  providerId: string,
  request: WebhookRequest & { url: string },
  options: WebhookOptions = {},
): Promise<Result<WebhookOutcome, WebhookError | NotFoundError>> {
  const [row] = await deps.handle.db
    .select()
    .from(providers)
    .where(and(eq(providers.id, providerId), eq(providers.kind, kind)));
  if (!row) return fail(new NotFoundError('Provider', providerId));
  const provider = {
    settings: row.settings as Record<string, unknown>,
    secrets: openSecrets(deps.encryptionKey, row),
  };
  const reports = await VERIFY[kind](request, provider, options);
  if (!reports.ok) return reports;
  let applied = 0;
  let unknown = 0;
  for (const item of reports.value.feedback) {
    const outcome = await applyFeedback(deps, item, { organizationId: row.organizationId, source: `webhook:${kind}` });
    if (outcome === 'applied') applied++;
    else unknown++;
  }
  const { confirmUrl } = reports.value;
  return ok({ applied, unknown, ...(confirmUrl ? { confirmUrl } : {}) });
}

/** The provider row's keys and settings that its webhooks are verified with. */
interface ProviderKeys {
  settings: Record<string, unknown>;
  secrets: Record<string, string>;
}

type Verified = Result<{ feedback: Feedback[]; confirmUrl?: string }, WebhookError>;

/** Per provider kind: verifies the request with the provider's keys and reads its reports. */
const VERIFY: Record<
  WebhookKind,
  (request: WebhookRequest & { url: string }, provider: ProviderKeys, options: WebhookOptions) => Promise<Verified>
> = {
  ses: async (request, { settings }, options) => {
    // Any AWS account can point its own SNS topic here; only the provider's topics are trusted.
    if (!Array.isArray(settings.topicArns) || settings.topicArns.length === 0)
      return fail(new InvalidSignatureError('this provider lists no SNS topicArns to accept'));
    const parsed = await parseSnsWebhook(request, {
      fetchCertificate: options.fetchCertificate ?? defaultFetcher,
      ...(options.certificateHost ? { certificateHost: options.certificateHost } : {}),
      topicArns: settings.topicArns as string[],
    });
    if (!parsed.ok) return parsed;
    if (parsed.value.type === 'subscription_confirmation')
      return ok({ feedback: [], confirmUrl: parsed.value.subscribeUrl });
    return ok({ feedback: parsed.value.type === 'notification' ? parsed.value.feedback : [] });
  },
  sendgrid: async (request, { settings }) => {
    // Without the verification key anyone could post bounces for this organization.
    const key = settings.webhookPublicKey;
    if (typeof key !== 'string' || !key)
      return fail(new InvalidSignatureError('this provider has no webhookPublicKey to verify webhooks with'));
    return feedbackOf(parseSendgridWebhook(request, { publicKey: key, maxAgeSeconds: 600 }));
  },
  mailgun: async (request, { secrets }) =>
    feedbackOf(
      parseMailgunWebhook(request, {
        signingKey: secrets.webhookSigningKey ?? secrets.apiKey ?? '',
        maxAgeSeconds: 600,
      }),
    ),
  twilio: async (request, { secrets }) =>
    feedbackOf(
      parseTwilioWebhook(request, { authToken: secrets.authToken ?? '', url: request.url, messageIdParam: 'm' }),
    ),
};

const feedbackOf = (parsed: Result<Feedback[], WebhookError>): Verified =>
  parsed.ok ? ok({ feedback: parsed.value }) : parsed;
