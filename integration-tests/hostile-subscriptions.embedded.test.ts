import { startEmbeddedPlatform } from './harness.ts';
import { hostileSubscriptionsSuite } from './hostile-subscriptions-suite.ts';

hostileSubscriptionsSuite('embedded', startEmbeddedPlatform);
