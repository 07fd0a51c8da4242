import { badInputSuite } from './bad-input-suite.ts';
import { startClusterPlatform } from './harness.ts';

badInputSuite('cluster', startClusterPlatform);
