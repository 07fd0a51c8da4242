import { startClusterPlatform } from './harness.ts';
import { webhooksSuite } from './webhooks-suite.ts';

// Kafka carries CRM's event to the webhook-dispatcher worker; the test's receiver is on loopback,
// which the operator allows here as OUTBOUND_ALLOWED_HOSTS.
webhooksSuite('cluster', (env = {}) =>
  startClusterPlatform({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1', ...env }, { webhookDispatcher: true }),
);
