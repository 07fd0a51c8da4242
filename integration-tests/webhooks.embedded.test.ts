import { startEmbeddedPlatform } from './harness.ts';
import { webhooksSuite } from './webhooks-suite.ts';

// Embedded mode allows loopback by default: the test's receiver is reachable.
webhooksSuite('embedded', startEmbeddedPlatform);
