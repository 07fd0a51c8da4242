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
import { dnsLookup } from './app/dns.ts';
import { DOMAIN_PATTERN, type MailPlatform } from './domain/sending-domain.ts';
import { parseEncryptionKey } from './providers/crypto.ts';
import { POSTFIX_INSTANCE, parsePostfixInstance } from './providers/postfix.ts';
import { rspamdChecker } from './providers/rspamd.ts';

const commaList = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    ),
);
const hostName = z.string().toLowerCase().regex(DOMAIN_PATTERN, 'expected a host name');

export const deliveryModel = z.object({
  /** Where recipients reach the platform: tracking pixels, click redirects, unsubscribe pages. */
  PUBLIC_BASE_URL: z.preprocess(emptyToUndefined, z.url().default('http://localhost:4000')),
  /** 32 bytes, base64: encrypts provider credentials at rest (AES-256-GCM). */
  DELIVERY_ENCRYPTION_KEY: secret('DELIVERY_ENCRYPTION_KEY'),
  /** Signs tracking and unsubscribe tokens (HMAC-SHA256). */
  TRACKING_SECRET: secret('TRACKING_SECRET'),
  /** Port of the inbound SMTP endpoint that takes DSN bounces and ARF complaints; 0 turns it off. */
  DELIVERY_INBOUND_SMTP_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  /** Where that endpoint listens: loopback unless the mail stack runs on other hosts (its pods). */
  DELIVERY_INBOUND_SMTP_HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
  /** The endpoint speaks LMTP (RFC 2033), as the mail stack's Postfix hands bounces over, instead of SMTP. */
  DELIVERY_INBOUND_LMTP: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true'),
  /** DNS servers that check sending domains' records (`host` or `host:port`, comma-separated); the system's when empty. */
  DELIVERY_DNS_SERVERS: commaList,
  /** The addresses mail leaves from, each with its PTR name: `ip=hostname`, comma-separated (SPF and PTR records). */
  DELIVERY_SENDING_IPS: commaList.pipe(
    z.array(
      z
        .string()
        .regex(/^\d{1,3}(\.\d{1,3}){3}=[^=]+$/, 'expected ip=hostname')
        .transform((entry) => {
          const [ip, hostname] = entry.split('=') as [string, string];
          return { ip, hostname: hostname.toLowerCase() };
        }),
    ),
  ),
  /** The host that receives bounces: the MX of every return path domain. */
  DELIVERY_BOUNCE_HOST: z.preprocess(emptyToUndefined, hostName.default('localhost')),
  /** VERP return path domain of email whose From domain is no sending domain; unset: such email keeps its From as return path. */
  DELIVERY_RETURN_PATH_DOMAIN: z.preprocess(emptyToUndefined, hostName.optional()),
  /** Rspamd's normal worker (e.g. http://127.0.0.1:11333): scores template previews for spam; unset: no score. */
  DELIVERY_RSPAMD_URL: z.preprocess(emptyToUndefined, z.url().optional()),
  /** The platform's Postfix instances, one per sending IP: `ip=host:port`, comma-separated (POSTFIX providers). */
  DELIVERY_POSTFIX_INSTANCES: commaList.pipe(
    z.array(z.string().regex(POSTFIX_INSTANCE, 'expected ip=host:port').transform(parsePostfixInstance)),
  ),
});

/** How sending domains are checked (the DNS servers), what their records name (addresses, bounce host), and the spam checker. */
export function mailSettings(delivery: z.infer<typeof deliveryModel>) {
  const platform: MailPlatform = {
    sendingIps: delivery.DELIVERY_SENDING_IPS,
    bounceHost: delivery.DELIVERY_BOUNCE_HOST,
  };
  return {
    mail: { dns: dnsLookup(delivery.DELIVERY_DNS_SERVERS), platform },
    ...(delivery.DELIVERY_RSPAMD_URL ? { spamChecker: rspamdChecker(delivery.DELIVERY_RSPAMD_URL) } : {}),
  };
}

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
    ...(delivery.DELIVERY_RETURN_PATH_DOMAIN ? { returnPathDomain: delivery.DELIVERY_RETURN_PATH_DOMAIN } : {}),
    ...(delivery.DELIVERY_POSTFIX_INSTANCES.length ? { postfixInstances: delivery.DELIVERY_POSTFIX_INSTANCES } : {}),
  };
}
