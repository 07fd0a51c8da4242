// The gateway's configuration; see the README for every variable.
import { ConfigError, logModel, optionalString, parseEnvironment, secretsModel, serverModel } from '@mauntic/platform';
import { z } from 'zod';
import type { Supergraph } from './supergraph.ts';

export const gatewayModel = z.object({
  GATEWAY_MAX_DEPTH: z.coerce.number().int().min(1).max(100).default(12),
  GATEWAY_MAX_COST: z.coerce.number().int().min(1).default(20_000),
  /** Comma-separated origins allowed to call from a browser; `*` allows any. */
  GATEWAY_CORS_ORIGINS: z.string().default('*'),
  /** Where identity answers API-key checks (cluster mode). */
  IDENTITY_INTERNAL_URL: z.url().default('http://127.0.0.1:4001'),
  /** The composed supergraph to serve; unset = the one @mauntic/schema ships. */
  SUPERGRAPH_PATH: optionalString,
});

export const parseGatewayEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment({ server: serverModel(4000), log: logModel, secrets: secretsModel, gateway: gatewayModel }, env);

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
