import { outboxMailbox } from './delivery-suite.ts';
import { startEmbeddedPlatform } from './harness.ts';
import { journeyRunSuite } from './journey-run-suite.ts';

// Everything in one process: the executor walks the journey in-process; mail lands in /outbox.
journeyRunSuite(
  'embedded',
  () => startEmbeddedPlatform(),
  async (platform) => outboxMailbox(platform),
);
