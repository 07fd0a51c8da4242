import { crmSuite } from './crm-suite.ts';
import { startEmbeddedPlatform } from './harness.ts';

crmSuite('embedded', startEmbeddedPlatform);
