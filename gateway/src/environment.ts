// The gateway's configuration; see the README for every variable.
import { logModel, parseEnvironment, secretsModel, serverModel } from '@mauntic/platform';
import { z } from 'zod';
import { SUBGRAPHS } from './subgraphs';

export const gatewayModel = z.object({
  GATEWAY_MAX_DEPTH: z.coerce.number().int().min(1).max(100).default(12),
  GATEWAY_MAX_COST: z.coerce.number().int().min(1).default(20_000),
  /** Comma-separated origins allowed to call from a browser; `*` allows any. */
  GATEWAY_CORS_ORIGINS: z.string().default('*'),
  /** Where identity answers API-key checks (cluster mode). */
  IDENTITY_INTERNAL_URL: z.url().default('http://127.0.0.1:4001'),
});

const urlsModel = z.object(
  Object.fromEntries(SUBGRAPHS.map((s) => [s.urlVariable, z.url().default(s.defaultUrl)])) as Record<
    string,
    z.ZodDefault<z.ZodURL>
  >,
);

export const parseGatewayEnvironment = (env: NodeJS.ProcessEnv = process.env) =>
  parseEnvironment(
    { server: serverModel(4000), log: logModel, secrets: secretsModel, gateway: gatewayModel, urls: urlsModel },
    env,
  );

export type GatewaySettings = z.infer<typeof gatewayModel>;
