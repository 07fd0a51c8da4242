// The gateway's configuration; docs/configuration.md lists every variable.
import {
  busModel,
  ConfigError,
  logModel,
  optionalString,
  parseEnvironment,
  queueModel,
  secretsModel,
  serverModel,
} from '@mauntic/platform';
import { z } from 'zod';
import { INTROSPECTION_ACCESS } from './limits.ts';
import type { RateLimitSettings } from './rate-limits.ts';
import type { SubscriptionLimits } from './subscriptions/hub.ts';
import type { Supergraph } from './supergraph.ts';

const count = (min: number) => z.coerce.number().int().min(min);

export const gatewayModel = z.object({
  GATEWAY_MAX_DEPTH: count(1).max(100).default(12),
  GATEWAY_MAX_COST: count(1).default(20_000),
  /** Aliased fields in one document (the same field asked for under many names multiplies its work). */
  GATEWAY_MAX_ALIASES: count(0).default(200),
  /** Fields at the root of one operation, fragments included (each is its own query or mutation). */
  GATEWAY_MAX_ROOT_FIELDS: count(1).default(100),
  /** Fragment definitions in one document. */
  GATEWAY_MAX_FRAGMENTS: count(0).default(100),
  /** Tokens (names, punctuation, values) in one document; parsing stops past them. Variables do not count. */
  GATEWAY_MAX_TOKENS: count(100).default(15_000),
  /** Who may select __schema and __type: everyone, authenticated (callers with a token or API key), nobody. */
  GATEWAY_INTROSPECTION: z.enum(INTROSPECTION_ACCESS).default('authenticated'),
  /** Requests a minute per client address for callers without credentials; 0 = unlimited. */
  GATEWAY_RATE_LIMIT_ANONYMOUS_PER_MINUTE: count(0).default(300),
  /** Requests a minute per signed-in user (in one organization) or per API key; 0 = unlimited. */
  GATEWAY_RATE_LIMIT_AUTHENTICATED_PER_MINUTE: count(0).default(60_000),
  /** Namespaces the budgets' Redis keys, so several deployments can share one Redis. */
  GATEWAY_RATE_LIMIT_PREFIX: z.string().min(1).default('mauntic:gateway:rate:'),
  /** Proxies in front of the gateway that append the client's address to X-Forwarded-For (0 = none: the socket's peer is the client). */
  GATEWAY_TRUSTED_PROXIES: count(0).max(10).default(0),
  /** Comma-separated origins allowed to call from a browser; `*` allows any. */
  GATEWAY_CORS_ORIGINS: z.string().default('*'),
  /** Where identity answers API-key checks (cluster mode). */
  IDENTITY_INTERNAL_URL: z.url().default('http://127.0.0.1:4001'),
  /** How long one call to a subgraph may take, answer included; past it the fields it owns fail with SUBGRAPH_TIMEOUT. */
  GATEWAY_SUBGRAPH_TIMEOUT_MS: count(1).default(10_000),
  /** The composed supergraph to serve; unset = the one @mauntic/schema ships. */
  SUPERGRAPH_PATH: optionalString,
  /** Subscriptions open at once on one WebSocket. */
  GATEWAY_SUBSCRIPTIONS_PER_CONNECTION: count(1).default(100),
  /** Subscriptions open at once for one organization, on each gateway instance. */
  GATEWAY_SUBSCRIPTIONS_PER_ORGANIZATION: count(1).default(1000),
  /** Events queued for one subscription whose client has not taken them yet; past it the client is dropped (close code 4008). */
  GATEWAY_SUBSCRIPTION_QUEUE: count(1).default(1000),
  /** How far back a client can resume (`after`): Kafka's topics are read back that far (they must keep as much); embedded mode keeps that much in memory. */
  GATEWAY_SUBSCRIPTION_RETENTION_HOURS: count(1).default(24),
  /** Embedded mode: the most recent events kept in memory for resuming, at most. */
  GATEWAY_SUBSCRIPTION_RETAINED_EVENTS: count(0).default(100_000),
  /** How often the API key of an open subscription connection is checked again (a revoked key closes it with 4403). */
  GATEWAY_SUBSCRIPTION_RECHECK_SECONDS: count(1).default(60),
});

export const parseGatewayEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    // REDIS_URL: the rate-limit budgets, shared by every replica; unset = each process's memory.
    // KAFKA_*: where subscriptions read events; unset = no subscriptions (the type is still served).
    {
      server: serverModel(4000),
      log: logModel,
      secrets: secretsModel,
      gateway: gatewayModel,
      redis: queueModel,
      bus: busModel,
    },
    env,
  );

/** `crm` -> CRM_URL: the variable that moves a subgraph away from the address in the supergraph. */
export const subgraphUrlVariable = (name: string) => `${name.toUpperCase().replaceAll('-', '_')}_URL`;

/** Where each subgraph the supergraph names serves GraphQL: its <NAME>_URL, else the supergraph's address. */
export function subgraphUrls(supergraph: Supergraph, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const issues: string[] = [];
  const urls: Record<string, string> = {};
  for (const { name, url } of supergraph.subgraphs) {
    const variable = subgraphUrlVariable(name);
    const parsed = z.url().safeParse(env[variable] || url);
    if (parsed.success) urls[name] = parsed.data;
    else issues.push(`${variable}: ${parsed.error.issues[0]?.message}`);
  }
  if (issues.length) throw new ConfigError(issues);
  return urls;
}

export type GatewaySettings = z.infer<typeof gatewayModel>;

export const rateLimitSettings = (settings: GatewaySettings): RateLimitSettings => ({
  anonymousPerMinute: settings.GATEWAY_RATE_LIMIT_ANONYMOUS_PER_MINUTE,
  authenticatedPerMinute: settings.GATEWAY_RATE_LIMIT_AUTHENTICATED_PER_MINUTE,
  trustedProxies: settings.GATEWAY_TRUSTED_PROXIES,
});

export const subscriptionLimits = (settings: GatewaySettings): SubscriptionLimits => ({
  perConnection: settings.GATEWAY_SUBSCRIPTIONS_PER_CONNECTION,
  perOrganization: settings.GATEWAY_SUBSCRIPTIONS_PER_ORGANIZATION,
  queue: settings.GATEWAY_SUBSCRIPTION_QUEUE,
});
