import { campaignSuite } from './campaign-suite.ts';
import { outboxMailbox } from './delivery-suite.ts';
import { startEmbeddedPlatform } from './harness.ts';

// Everything in one process: the sender hands the campaign to delivery in-process; mail lands in /outbox.
campaignSuite(
  'embedded',
  () => startEmbeddedPlatform(),
  async (platform) => outboxMailbox(platform),
);
