// Addresses of the real services tests run against (started by scripts/services.sh).
// Tests never skip for a missing service: they fail and say which one.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

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

/**
 * A Postgres database of its own for one suite, on the test server: for suites whose workers claim
 * every organization's work (the delivery engine, the journey executor), which must not meet the
 * work of suites running beside them on the shared test database. `drop()` removes it.
 */
export async function ownTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = new URL(testServices.databaseUrl);
  const name = `${base.pathname.slice(1)}_x${randomBytes(4).toString('hex')}`;
  const admin = postgres({
    host: base.hostname,
    port: Number(base.port || 5432),
    user: decodeURIComponent(base.username),
    password: decodeURIComponent(base.password),
    database: 'postgres',
    max: 1,
    onnotice: () => {},
  });
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}
