import { crmSuite } from './crm-suite.ts';
import { startClusterPlatform } from './harness.ts';

crmSuite('cluster', startClusterPlatform);
