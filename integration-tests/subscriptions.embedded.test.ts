import { startEmbeddedPlatform } from './harness.ts';
import { subscriptionsSuite } from './subscriptions-suite.ts';

subscriptionsSuite('embedded', startEmbeddedPlatform);
