import { deliverySuite, smtpMailbox } from './delivery-suite.ts';
import { startClusterPlatform } from './harness.ts';

// The delivery subgraph and the delivery engine run as their own processes; the engine sends
// through an SMTP provider pointed at a real SMTP server this test runs.
deliverySuite(
  'cluster',
  (env) => startClusterPlatform(env, { deliveryEngine: true }),
  () => smtpMailbox(),
);
