import { gatewayLimitsSuite } from './gateway-limits-suite.ts';
import { startEmbeddedPlatform } from './harness.ts';

gatewayLimitsSuite('embedded', startEmbeddedPlatform);
