// The journey context's use cases, bound to their dependencies.
import type { JourneyDeps } from './deps.ts';

export function createJourneyServices(deps: JourneyDeps) {
  return {
    deps,
    subscriptions: () => [],
  };
}

export type JourneyServices = ReturnType<typeof createJourneyServices>;
