import { startClusterPlatform } from './harness.ts';
import { subscriptionsSuite } from './subscriptions-suite.ts';

subscriptionsSuite('cluster', startClusterPlatform);
