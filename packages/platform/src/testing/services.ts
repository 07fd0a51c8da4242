// Addresses of the real services tests run against (started by scripts/services.sh).
// Tests never skip for a missing service: they fail and say which one.
export const testServices = {
  databaseUrl: process.env.TEST_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/mauntic_test',
  redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  kafkaBrokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  /** Tests keep to their own topics, apart from what `pnpm start` or a benchmark publish. */
  kafkaTopicPrefix: process.env.TEST_KAFKA_TOPIC_PREFIX ?? 'mauntic-test',
};

/**
 * Node arguments that run a TypeScript file of the workspace in a child process, with workspace
 * packages resolved to their sources (the `source` export condition), as vitest resolves them.
 */
export const TYPESCRIPT_NODE_ARGS = ['--conditions=source', '--import', 'tsx'] as const;
