// The journey context as the runtime wires it (cluster: src/index.ts; embedded: one process).
import { fileURLToPath } from 'node:url';
import type { ContextModule } from '@mauntic/platform';
import { createJourneyServices, type JourneyServices } from './app/services.ts';
import { outbox } from './db/schema.ts';
import { schema } from './graphql/index.ts';

export function journeyModule(options: { now?: () => Date } = {}): ContextModule<JourneyServices> {
  return {
    name: 'journey',
    schema,
    migrations: { schema: 'journey', folder: fileURLToPath(new URL('../drizzle', import.meta.url)) },
    outbox,
    createServices: (deps) =>
      createJourneyServices({ handle: deps.handle, logger: deps.logger, now: options.now ?? (() => new Date()) }),
    subscriptions: (services) => services.subscriptions(),
  };
}

export type { JourneyServices };
