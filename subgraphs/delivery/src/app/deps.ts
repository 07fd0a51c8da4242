import type { DatabaseHandle, JobQueue, Logger, OutboundGuard } from '@mauntic/platform';
import type { MailPlatform } from '../domain/sending-domain.ts';
import type { SpamChecker } from '../providers/rspamd.ts';
import type { DnsLookup } from './dns.ts';

export interface DeliveryDeps {
  handle: DatabaseHandle;
  queue: JobQueue;
  logger: Logger;
  now: () => Date;
  /** AES-256-GCM key for provider credentials (32 bytes). */
  encryptionKey: Buffer;
  /** HMAC key for tracking and unsubscribe tokens. */
  trackingKey: Buffer;
  /** Where recipients reach the platform (tracking, unsubscribe), without a trailing slash. */
  publicBaseUrl: string;
  /**
   * Where the hosts and URLs an organization configures may point (OUTBOUND_ALLOWED_HOSTS). Unset:
   * no loopback, private, link-local or metadata address at all.
   */
  outbound?: OutboundGuard;
  /** How long a send request waits for a contact delivery has not heard of (PENDING_CONTACT_MS by default). */
  pendingContactMs?: number;
  /**
   * How sending domains are checked: the DNS resolvers (DELIVERY_DNS_SERVERS) and the platform's
   * side of the records (DELIVERY_SENDING_IPS, DELIVERY_BOUNCE_HOST). Unset: the system's resolver,
   * no sending addresses, bounces to `localhost`.
   */
  mail?: { dns: DnsLookup; platform: MailPlatform };
  /** Scores previewed email for spam (Rspamd at DELIVERY_RSPAMD_URL). Unset: previews carry no score. */
  spamChecker?: SpamChecker;
}
