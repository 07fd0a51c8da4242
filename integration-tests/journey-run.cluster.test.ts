import { openDatabase } from '@mauntic/platform';
import { testServices } from '@mauntic/platform/testing';
import { smtpMailbox } from './delivery-suite.ts';
import { startClusterPlatform } from './harness.ts';
import { journeyRunSuite } from './journey-run-suite.ts';

// Every deployable its own process, the journey executor and the delivery engine included; the
// engine sends through an SMTP provider pointed at a real SMTP server this test runs.
journeyRunSuite(
  'cluster',
  async () => ({
    platform: await startClusterPlatform(
      { OUTBOUND_ALLOWED_HOSTS: '127.0.0.1' },
      { deliveryEngine: true, journeyExecutor: true },
    ),
    seedTemplates: async (organizationId, ids) => {
      const handle = await openDatabase({ url: testServices.databaseUrl, maxConnections: 1 });
      for (const id of ids)
        await handle.script(
          `insert into journey.templates (id, organization_id, channel) values ('${id}', '${organizationId}', 'email')`,
        );
      await handle.close();
    },
  }),
  () => smtpMailbox(),
);
