import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbedded } from '@mauntic/embedded';
import type { DatabaseHandle } from '@mauntic/platform';
import { outboxMailbox } from './delivery-suite.ts';
import { freePort } from './harness.ts';
import { journeyRunSuite } from './journey-run-suite.ts';

// Everything in one process: the executor walks the journey in-process; mail lands in /outbox.
journeyRunSuite(
  'embedded',
  async () => {
    const app = await startEmbedded({
      LOG_LEVEL: 'silent',
      PORT: String(await freePort()),
      DATA_DIR: mkdtempSync(join(tmpdir(), 'mauntic-journeys-')),
    });
    const journey = app.contexts.find((c) => c.module.name === 'journey')!;
    const handle = (journey.services as { deps: { handle: DatabaseHandle } }).deps.handle;
    return {
      platform: { mode: 'embedded', url: app.url, publicUrl: app.http.url, stop: app.stop },
      seedTemplates: async (organizationId, ids) => {
        for (const id of ids)
          await handle.script(
            `insert into journey.templates (id, organization_id, channel) values ('${id}', '${organizationId}', 'email')`,
          );
      },
    };
  },
  async (platform) => outboxMailbox(platform),
);
