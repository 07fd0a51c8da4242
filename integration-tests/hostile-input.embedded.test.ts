import { startEmbeddedPlatform } from './harness.ts';
import { hostileInputSuite } from './hostile-input-suite.ts';

hostileInputSuite('embedded', startEmbeddedPlatform);
