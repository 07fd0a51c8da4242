import { startEmbeddedPlatform } from './harness.ts';
import { journeySuite } from './journey-suite.ts';

journeySuite('embedded', startEmbeddedPlatform);
