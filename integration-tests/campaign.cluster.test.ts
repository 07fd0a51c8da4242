import { campaignSuite } from './campaign-suite.ts';
import { smtpMailbox } from './delivery-suite.ts';
import { startClusterPlatform } from './harness.ts';

// Every deployable its own process, the campaign sender and the delivery engine included; the
// engine sends through an SMTP provider pointed at a real SMTP server this test runs.
campaignSuite(
  'cluster',
  () => startClusterPlatform({ OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' }, { deliveryEngine: true, campaignSender: true }),
  () => smtpMailbox(),
);
