// The integrations deployable's configuration; docs/configuration.md lists every variable.
import {
  busModel,
  ConfigError,
  databaseModel,
  logModel,
  outboundModel,
  parseEncryptionKey,
  parseEnvironment,
  queueModel,
  secret,
  secretsModel,
  serverModel,
} from '@mauntic/platform';
import { z } from 'zod';

export const integrationsModel = z.object({
  /** 32 bytes, base64: seals webhook signing secrets at rest (AES-256-GCM). Shared with the webhook dispatcher. */
  INTEGRATIONS_ENCRYPTION_KEY: secret('INTEGRATIONS_ENCRYPTION_KEY'),
});

/** The integrations subgraph's own limits (embedded mode reads them too). */
export const webhookEndpointsModel = z.object({
  /** Webhook endpoints an organization may have; creating one more is refused with WebhookEndpointLimitError. */
  WEBHOOK_MAX_ENDPOINTS: z.coerce.number().int().min(1).max(10_000).default(25),
});

export const parseIntegrationsEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    {
      server: serverModel(4005),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
      integrations: integrationsModel,
      webhookEndpoints: webhookEndpointsModel,
      outbound: outboundModel(),
    },
    env,
  );

/** The key that seals webhook secrets: required in cluster mode (embedded mode keeps one in its data folder). */
export function clusterEncryptionKey(integrations: z.infer<typeof integrationsModel>) {
  if (!integrations.INTEGRATIONS_ENCRYPTION_KEY)
    throw new ConfigError(['INTEGRATIONS_ENCRYPTION_KEY: required in cluster mode']);
  return parseEncryptionKey(integrations.INTEGRATIONS_ENCRYPTION_KEY);
}

/** The webhook dispatcher's settings (workers/webhook-dispatcher, and embedded mode). */
export const dispatcherModel = z.object({
  /** Deliveries in flight at once in one dispatcher. */
  WEBHOOK_CAPACITY: z.coerce.number().int().min(1).max(1000).default(32),
  /** How often it looks for due deliveries when nothing woke it. */
  WEBHOOK_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(500),
  /** A POST gets no longer than this, connection included. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  /** First retry after about this long; each next one waits twice as long (with jitter), up to WEBHOOK_RETRY_CAP_MS. */
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(30_000),
  WEBHOOK_RETRY_CAP_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(86_400_000)
    .default(6 * 3_600_000),
  /** An endpoint is disabled after this many failed attempts in a row ... */
  WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).max(100_000).default(50),
  /** ... going on for at least this long. */
  WEBHOOK_DISABLE_AFTER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(30 * 86_400_000)
    .default(24 * 3_600_000),
  /** Settled deliveries and their attempts are deleted once older than this many days (hourly, in batches). */
  WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(30),
});

export const dispatcherSettings = (dispatcher: z.infer<typeof dispatcherModel>) => ({
  capacity: dispatcher.WEBHOOK_CAPACITY,
  pollMs: dispatcher.WEBHOOK_POLL_MS,
  timeoutMs: dispatcher.WEBHOOK_TIMEOUT_MS,
  retryBaseMs: dispatcher.WEBHOOK_RETRY_BASE_MS,
  retryCapMs: dispatcher.WEBHOOK_RETRY_CAP_MS,
  disableAfterFailures: dispatcher.WEBHOOK_DISABLE_AFTER_FAILURES,
  disableAfterMs: dispatcher.WEBHOOK_DISABLE_AFTER_MS,
  retentionDays: dispatcher.WEBHOOK_RETENTION_DAYS,
});
