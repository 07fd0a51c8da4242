// The integrations context's use cases, bound to their dependencies.
import type { JobQueue } from '@mauntic/platform';
import { dedupWindowJob } from './dedup-window.ts';
import type { IntegrationsDeps } from './deps.ts';
import { createIngest } from './ingest.ts';
import { createSource, deleteSource, getSource, listSources, rollSourceWriteKey } from './sources.ts';

export function createIntegrationsServices(deps: IntegrationsDeps, queue?: JobQueue) {
  const bind =
    <A extends unknown[], R>(fn: (deps: IntegrationsDeps, ...args: A) => R) =>
    (...args: A) =>
      fn(deps, ...args);
  return {
    deps,
    createSource: bind(createSource),
    rollSourceWriteKey: bind(rollSourceWriteKey),
    deleteSource: bind(deleteSource),
    getSource: bind(getSource),
    listSources: bind(listSources),
    ingest: createIngest(deps),
    dedupWindow: queue ? dedupWindowJob(deps, queue) : undefined,
  };
}

export type IntegrationsServices = ReturnType<typeof createIntegrationsServices>;
