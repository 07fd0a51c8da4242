import { badInputSuite } from './bad-input-suite.ts';
import { startEmbeddedPlatform } from './harness.ts';

badInputSuite('embedded', startEmbeddedPlatform);
