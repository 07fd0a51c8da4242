import { startClusterPlatform } from './harness.ts';
import { journeySuite } from './journey-suite.ts';

// The journey subgraph runs as its own process behind the gateway.
journeySuite('cluster', startClusterPlatform);
