import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);
// Workspace packages resolve to their TypeScript sources through the `source` export condition
// (plain node resolves them to their built dist/ files). Global setup runs in __vitest__.
const resolve = { conditions: ['source', 'node', 'development|production'] };

export default defineConfig({
  resolve: {
    // graphql must load once: its .mjs and .js builds are different realms.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
    ...resolve,
  },
  environments: { ssr: { resolve }, __vitest__: { resolve } },
  test: {
    include: ['{packages,subgraphs,workers,gateway,embedded,schema,integration-tests,bench,mail-stack}/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: ['./vitest.global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 300_000,
    env: { KAFKAJS_NO_PARTITIONER_WARNING: '1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
  },
});
