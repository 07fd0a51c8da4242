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
  const secrets = openSecrets(deps.encryptionKey, row);
  const settings = row.settings as Record<string, unknown>;
  let feedback: Feedback[];
  let confirmUrl: string | undefined;
  switch (kind) {
    case 'ses': {
      // Any AWS account can point its own SNS topic here; only the provider's topics are trusted.
      if (!Array.isArray(settings.topicArns) || settings.topicArns.length === 0)
        return fail(new InvalidSignatureError('this provider lists no SNS topicArns to accept'));
      const parsed = await parseSnsWebhook(request, {
        fetchCertificate: options.fetchCertificate ?? defaultFetcher,
        ...(options.certificateHost ? { certificateHost: options.certificateHost } : {}),
        topicArns: settings.topicArns as string[],
      });
      if (!parsed.ok) return parsed;
      if (parsed.value.type === 'subscription_confirmation') confirmUrl = parsed.value.subscribeUrl;
      feedback = parsed.value.type === 'notification' ? parsed.value.feedback : [];
      break;
    }
    case 'sendgrid': {
      // Without the verification key anyone could post bounces for this organization.
      const key = settings.webhookPublicKey;
      if (typeof key !== 'string' || !key)
        return fail(new InvalidSignatureError('this provider has no webhookPublicKey to verify webhooks with'));
      const parsed = parseSendgridWebhook(request, { publicKey: key, maxAgeSeconds: 600 });
      if (!parsed.ok) return parsed;
      feedback = parsed.value;
      break;
    }
    case 'mailgun': {
      const parsed = parseMailgunWebhook(request, {
        signingKey: secrets.webhookSigningKey ?? secrets.apiKey ?? '',
        maxAgeSeconds: 600,
      });
      if (!parsed.ok) return parsed;
      feedback = parsed.value;
      break;
    }
    case 'twilio': {
      const parsed = parseTwilioWebhook(request, {
        authToken: secrets.authToken ?? '',
        url: request.url,
        messageIdParam: 'm',
      });
      if (!parsed.ok) return parsed;
      feedback = parsed.value;
      break;
    }
  }
  let applied = 0;
  let unknown = 0;
  for (const item of feedback) {
    const outcome = await applyFeedback(deps, item, { organizationId: row.organizationId, source: `webhook:${kind}` });
    if (outcome === 'applied') applied++;
    else unknown++;
  }
  return ok({ applied, unknown, ...(confirmUrl ? { confirmUrl } : {}) });
}
