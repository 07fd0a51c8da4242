// Which provider sends an organization's messages on a channel: its default provider row, with
// credentials decrypted, wrapped in its rate limit and its failover provider. Built adapters are
// kept (SMTP pools stay open) until the rows change.
import type { DatabaseHandle, OutboundGuard } from '@mauntic/platform';
import { sql } from 'drizzle-orm';
import { providers } from '../db/schema.ts';
import {
  createProvider,
  type OutboundMessage,
  type OutboxStore,
  type PostfixInstance,
  type Provider,
  type ProviderKind,
  type RateLimiter,
  withFailover,
  withRateLimit,
} from '../providers/index.ts';
import { openSecrets } from './providers.ts';

/**
 * Nothing was handed to a provider because something the directory needs did not answer: the
 * database holding the provider rows, or the rate limiter's Redis. The message is not at fault and
 * was not tried; it goes back to the queue for a little while.
 */
export class NotTried extends Error {
  constructor(what: string, cause: unknown) {
    super(`${what}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = 'NotTried';
  }
}

export interface ResolvedProvider {
  /** The provider row that will send (null for the built-in local outbox). */
  providerId: string | null;
  send(
    message: OutboundMessage,
    onHandedOver: () => void,
  ): Promise<{ providerId: string | null; providerMessageId: string | null }>;
}

export interface ProviderDirectory {
  providerFor(organizationId: string, channel: string): Promise<ResolvedProvider | null>;
  close(): Promise<void>;
}

interface ProviderRow {
  id: string;
  organization_id: string;
  kind: ProviderKind;
  settings: Record<string, unknown>;
  secrets: string | null;
  rate_per_second: number | null;
  failover_provider_id: string | null;
  updated_at: string;
}

export interface ProviderDirectoryOptions {
  handle: DatabaseHandle;
  encryptionKey: Buffer;
  limiter: RateLimiter;
  /** Embedded mode: email goes to the local outbox when an organization has no email provider. */
  localOutbox?: OutboxStore;
  cacheMs?: number;
  /**
   * Where the platform is reached (no trailing slash): Twilio messages then carry a status
   * callback to `/webhooks/twilio?provider=<id>&m=<message id>`, which webhooks.ts verifies.
   */
  publicBaseUrl?: string;
  /** Checks where providers connect (see ProviderDependencies.outbound); unchecked without one. */
  outbound?: OutboundGuard;
  /** The platform's Postfix instances (DELIVERY_POSTFIX_INSTANCES), for POSTFIX providers. */
  postfixInstances?: readonly PostfixInstance[];
}

/** Builds one provider row's adapter, credentials decrypted and bound to the row. */
function buildProvider(
  row: ProviderRow,
  key: Buffer,
  deps: {
    localOutbox?: OutboxStore;
    publicBaseUrl?: string;
    outbound?: OutboundGuard;
    postfixInstances?: readonly PostfixInstance[];
  },
): Provider<OutboundMessage> {
  const secrets = openSecrets(key, { id: row.id, organizationId: row.organization_id, secrets: row.secrets });
  const adapter = createProvider(row.kind, row.settings, secrets, {
    ...(deps.localOutbox ? { outboxStore: deps.localOutbox } : {}),
    ...(deps.outbound ? { outbound: deps.outbound } : {}),
    ...(deps.postfixInstances ? { postfixInstances: deps.postfixInstances } : {}),
  });
  if (row.kind !== 'twilio' || !deps.publicBaseUrl) return adapter;
  const base = deps.publicBaseUrl.replace(/\/+$/, '');
  return {
    kind: adapter.kind,
    send: (message, options) =>
      adapter.send(
        message.channel === 'sms' && !message.statusCallbackUrl
          ? {
              ...message,
              statusCallbackUrl: `${base}/webhooks/twilio?provider=${row.id}&m=${encodeURIComponent(message.messageId)}`,
            }
          : message,
        options,
      ),
    close: () => adapter.close(),
  };
}

/** What one organization and channel resolved to, and the adapters to close when its rows change. */
interface CacheEntry {
  at: number;
  /** The rows' ids and update times: a change means the adapters are rebuilt. */
  stamp: string;
  resolved: ResolvedProvider | null;
  adapters: Provider[];
}

export function createProviderDirectory(options: ProviderDirectoryOptions): ProviderDirectory {
  const cacheMs = options.cacheMs ?? 5000;
  const cache = new Map<string, CacheEntry>();
  /** Lookups in progress, so concurrent sends of one batch build one adapter, not one each. */
  const loading = new Map<string, Promise<ResolvedProvider | null>>();
  const fallback = localOutboxFallback(options.localOutbox);

  /**
   * Reads the rows again; the adapters built for them stay while the rows are unchanged. While the
   * database does not answer, the last rows read keep serving.
   */
  async function load(key: string, organizationId: string, channel: string): Promise<ResolvedProvider | null> {
    const now = Date.now();
    const hit = cache.get(key);
    let rows: ProviderRow[];
    try {
      rows = await defaultProviderRows(options.handle, organizationId, channel);
    } catch (error) {
      if (hit) return hit.resolved ?? fallback.forChannel(channel);
      throw new NotTried('the provider rows could not be read', error);
    }
    const stamp = rows.map((r) => `${r.id}@${r.updated_at}`).join(',');
    if (hit && hit.stamp === stamp) {
      hit.at = now;
      return hit.resolved ?? fallback.forChannel(channel);
    }
    if (hit) await Promise.all(hit.adapters.map((a) => a.close()));
    const adapters: Provider[] = [];
    const resolved = resolveProvider(rows, adapters, options);
    cache.set(key, { at: now, stamp, resolved, adapters });
    return resolved ?? fallback.forChannel(channel);
  }

  return {
    providerFor(organizationId, channel) {
      const key = `${organizationId}|${channel}`;
      const hit = cache.get(key);
      if (hit && Date.now() - hit.at < cacheMs) return Promise.resolve(hit.resolved ?? fallback.forChannel(channel));
      let pending = loading.get(key);
      if (!pending) {
        pending = load(key, organizationId, channel).finally(() => loading.delete(key));
        loading.set(key, pending);
      }
      return pending;
    },
    async close() {
      for (const entry of cache.values()) await Promise.all(entry.adapters.map((a) => a.close()));
      cache.clear();
      await fallback.close();
    },
  };
}

/** An organization's default provider on a channel, then its failover provider. */
function defaultProviderRows(handle: DatabaseHandle, organizationId: string, channel: string): Promise<ProviderRow[]> {
  return handle.rows<ProviderRow>(sql`
    select p.id, p.organization_id, p.kind, p.settings, p.secrets, p.rate_per_second, p.failover_provider_id, p.updated_at::text
    from ${providers} p
    where p.organization_id = ${organizationId} and p.channel = ${channel} and p.is_default
    union all
    select f.id, f.organization_id, f.kind, f.settings, f.secrets, f.rate_per_second, f.failover_provider_id, f.updated_at::text
    from ${providers} p join ${providers} f on f.id = p.failover_provider_id and f.organization_id = p.organization_id
    where p.organization_id = ${organizationId} and p.channel = ${channel} and p.is_default`);
}

/** The primary's adapter, within its rate, failing over to the secondary's; adds both to `adapters`. */
function resolveProvider(
  rows: ProviderRow[],
  adapters: Provider[],
  options: ProviderDirectoryOptions,
): ResolvedProvider | null {
  const [primaryRow, failoverRow] = rows;
  if (!primaryRow) return null;
  const primary = buildProvider(primaryRow, options.encryptionKey, options);
  adapters.push(primary);
  let sender = limited(primaryRow, primary, options.limiter);
  let secondaryId: string | null = null;
  if (failoverRow && failoverRow.id !== primaryRow.id) {
    const secondary = buildProvider(failoverRow, options.encryptionKey, options);
    adapters.push(secondary);
    sender = withFailover(sender, limited(failoverRow, secondary, options.limiter));
    secondaryId = failoverRow.id;
  }
  return {
    providerId: primaryRow.id,
    async send(message, onHandedOver) {
      const result = await sender.send(message, { onHandedOver });
      return {
        providerId: result.failedOver && secondaryId ? secondaryId : primaryRow.id,
        providerMessageId: result.providerMessageId,
      };
    },
  };
}

function limited(
  row: ProviderRow,
  adapter: Provider<OutboundMessage>,
  limiter: RateLimiter,
): Provider<OutboundMessage> {
  if (!row.rate_per_second) return adapter;
  const reachable: RateLimiter = {
    acquire: (...args) =>
      limiter.acquire(...args).catch((error: unknown) => {
        throw new NotTried('the rate limiter did not answer', error);
      }),
  };
  return withRateLimit(adapter, reachable, {
    key: `provider:${row.id}`,
    ratePerSecond: row.rate_per_second,
    burst: Math.max(1, row.rate_per_second),
  });
}

/**
 * Embedded mode's answer for email when an organization has no provider: the local outbox, one
 * adapter built on first use. Without an outbox store there is no fallback.
 */
function localOutboxFallback(store: OutboxStore | undefined) {
  let adapter: Provider<OutboundMessage> | undefined;
  const outbox: ResolvedProvider | null = store
    ? {
        providerId: null,
        async send(message, onHandedOver) {
          adapter ??= createProvider('local_outbox', {}, {}, { outboxStore: store });
          const result = await adapter.send(message, { onHandedOver });
          return { providerId: null, providerMessageId: result.providerMessageId };
        },
      }
    : null;
  return {
    forChannel: (channel: string) => (channel === 'email' ? outbox : null),
    close: async () => {
      await adapter?.close();
    },
  };
}
