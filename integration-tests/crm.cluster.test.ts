import { crmSuite } from './crm-suite';
import { startClusterPlatform } from './harness';

crmSuite('cluster', startClusterPlatform);
