import { crmSuite } from './crm-suite';
import { startEmbeddedPlatform } from './harness';

crmSuite('embedded', startEmbeddedPlatform);
