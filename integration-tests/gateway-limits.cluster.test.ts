import { randomUUID } from 'node:crypto';
import { testServices } from '@mauntic/platform/testing';
import { gatewayLimitsSuite } from './gateway-limits-suite.ts';
import { startClusterPlatform } from './harness.ts';

// The budgets live in Redis under a prefix of this run's own, so spending this machine's anonymous
// budget here leaves the other cluster suites' (which share the Redis) untouched.
gatewayLimitsSuite('cluster', (env) =>
  startClusterPlatform({
    REDIS_URL: testServices.redisUrl,
    GATEWAY_RATE_LIMIT_PREFIX: `test:gateway-limits:${randomUUID()}:`,
    ...env,
  }),
);
