// The campaign context as the runtime wires it (cluster: src/index.ts; embedded: one process).
import { fileURLToPath } from 'node:url';
import type { ContextModule } from '@mauntic/platform';
import { type CampaignServices, createCampaignServices } from './app/services.ts';
import { outbox } from './db/schema.ts';
import { schema } from './graphql/index.ts';

export function campaignModule(options: { now?: () => Date } = {}): ContextModule<CampaignServices> {
  return {
    name: 'campaign',
    schema,
    migrations: { schema: 'campaign', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) },
    outbox,
    createServices: (deps) =>
      createCampaignServices({ handle: deps.handle, logger: deps.logger, now: options.now ?? (() => new Date()) }),
    subscriptions: (services) => services.subscriptions(),
  };
}

export type { CampaignServices };
