import { smtpMailbox } from './delivery-suite.ts';
import { startClusterPlatform } from './harness.ts';
import { journeyRunSuite } from './journey-run-suite.ts';

// Every deployable its own process, the journey executor and the delivery engine included; the
// engine sends through an SMTP provider pointed at a real SMTP server this test runs.
journeyRunSuite(
  'cluster',
  () => startClusterPlatform({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' }, { deliveryEngine: true, journeyExecutor: true }),
  () => smtpMailbox(),
);
