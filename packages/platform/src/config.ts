// Configuration is parsed once per deployable from the environment, one zod model per concern;
// every problem is reported at once. Embedded mode needs no variables at all.
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`invalid configuration:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Models = Record<string, z.ZodObject>;
export type Config<M extends Models> = { [K in keyof M]: z.infer<M[K]> };

export function parseEnvironment<M extends Models>(models: M, env: NodeJS.ProcessEnv = process.env): Config<M> {
  const issues: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, model] of Object.entries(models)) {
    const result = model.safeParse(env);
    if (result.success) out[name] = result.data;
    else for (const issue of result.error.issues) issues.push(`${issue.path.join('.')}: ${issue.message}`);
  }
  if (issues.length) throw new ConfigError(issues);
  return out as Config<M>;
}

export const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const list = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .optional(),
);

export const logModel = z.object({
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export const databaseModel = z.object({
  /** postgres://... for cluster mode; unset = PGlite under DATA_DIR. */
  DATABASE_URL: z.preprocess(emptyToUndefined, z.url().optional()),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().default('./data'),
  /** Apply the context's migrations when it starts (cluster); embedded mode always does. */
  MIGRATE_ON_START: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true'),
});

export const busModel = z.object({
  /** Comma-separated host:port list; unset = the in-process bus. */
  KAFKA_BROKERS: list,
  KAFKA_CLIENT_ID: z.string().default('mauntic'),
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(256).default(3),
  /** Topics are <prefix>.<context>.events: lets environments share one Kafka cluster. */
  KAFKA_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('mauntic'),
});

export const queueModel = z.object({
  /** redis://... ; unset = the in-process job queue. */
  REDIS_URL: z.preprocess(emptyToUndefined, z.url().optional()),
  /** Prefix of the job queue's Redis keys: lets environments share one Redis. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/)
    .default('mauntic'),
});

export const secret = (name: string) =>
  z.preprocess(emptyToUndefined, z.string().min(32, `${name} must be at least 32 characters`).optional());

export const secretsModel = z.object({
  /** Signs the context the gateway passes to subgraphs. Shared by the gateway and every subgraph. */
  INTERNAL_CONTEXT_SECRET: secret('INTERNAL_CONTEXT_SECRET'),
  /** Signs access tokens (HS256). Shared by identity (signs) and the gateway (verifies). */
  AUTH_JWT_SECRET: secret('AUTH_JWT_SECRET'),
});

export const serverModel = (defaultPort: number) =>
  z.object({
    PORT: z.coerce.number().int().min(0).max(65535).default(defaultPort),
    HOST: z.string().default('0.0.0.0'),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(15_000),
    /** A port of its own for /metrics (not then served on PORT); unset: /metrics on PORT. */
    METRICS_PORT: z.preprocess(emptyToUndefined, z.coerce.number().int().min(0).max(65535).optional()),
  });

export const requireValue = <T>(value: T | undefined, name: string): T => {
  if (value === undefined || value === null || value === '')
    throw new ConfigError([`${name}: required in cluster mode`]);
  return value;
};

export { optionalString };
