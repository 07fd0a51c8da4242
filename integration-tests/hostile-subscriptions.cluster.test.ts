import { startClusterPlatform } from './harness.ts';
import { hostileSubscriptionsSuite } from './hostile-subscriptions-suite.ts';

hostileSubscriptionsSuite('cluster', startClusterPlatform);
