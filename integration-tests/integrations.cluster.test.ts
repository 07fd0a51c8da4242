import { startClusterPlatform } from './harness.ts';
import { integrationsSuite } from './integrations-suite.ts';

// The integrations subgraph runs as its own process; the gateway passes /v1/* to it.
integrationsSuite('cluster', startClusterPlatform);
