import { startClusterPlatform } from './harness.ts';
import { hostileInputSuite } from './hostile-input-suite.ts';

hostileInputSuite('cluster', startClusterPlatform);
