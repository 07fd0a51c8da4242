import { startEmbeddedPlatform } from './harness.ts';
import { integrationsSuite } from './integrations-suite.ts';

integrationsSuite('embedded', startEmbeddedPlatform);
