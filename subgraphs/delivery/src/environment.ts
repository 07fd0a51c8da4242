// The delivery deployable's configuration; docs/configuration.md lists every variable.
import {
  busModel,
  ConfigError,
  databaseModel,
  emptyToUndefined,
  logModel,
  outboundModel,
  parseEnvironment,
  queueModel,
  secret,
  secretsModel,
  serverModel,
} from '@mauntic/platform';
import { z } from 'zod';
import { parseEncryptionKey } from './providers/crypto.ts';

export const deliveryModel = z.object({
  /** Where recipients reach the platform: tracking pixels, click redirects, unsubscribe pages. */
  PUBLIC_BASE_URL: z.preprocess(emptyToUndefined, z.url().default('http://localhost:4000')),
  /** 32 bytes, base64: encrypts provider credentials at rest (AES-256-GCM). */
  DELIVERY_ENCRYPTION_KEY: secret('DELIVERY_ENCRYPTION_KEY'),
  /** Signs tracking and unsubscribe tokens (HMAC-SHA256). */
  TRACKING_SECRET: secret('TRACKING_SECRET'),
  /** Port of the inbound SMTP endpoint that takes DSN bounces and ARF complaints; 0 turns it off. */
  DELIVERY_INBOUND_SMTP_PORT: z.coerce.number().int().min(0).max(65535).default(0),
});

export const parseDeliveryEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    {
      server: serverModel(4003),
      log: logModel,
      db: databaseModel,
      bus: busModel,
      queue: queueModel,
      secrets: secretsModel,
      delivery: deliveryModel,
      outbound: outboundModel(),
    },
    env,
  );

/**
 * The delivery subgraph's keys in cluster mode, which has no data folder to keep generated ones
 * in: both secrets must be given (every missing one reported at once).
 */
export function clusterKeys(delivery: z.infer<typeof deliveryModel>) {
  const missing = [
    !delivery.DELIVERY_ENCRYPTION_KEY && 'DELIVERY_ENCRYPTION_KEY: required in cluster mode',
    !delivery.TRACKING_SECRET && 'TRACKING_SECRET: required in cluster mode',
  ].filter((x): x is string => Boolean(x));
  if (missing.length) throw new ConfigError(missing);
  return {
    publicBaseUrl: delivery.PUBLIC_BASE_URL,
    encryptionKey: parseEncryptionKey(delivery.DELIVERY_ENCRYPTION_KEY),
    trackingKey: Buffer.from(delivery.TRACKING_SECRET!, 'utf8'),
  };
}
