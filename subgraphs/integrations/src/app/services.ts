// The integrations context's use cases, bound to their dependencies.
import type { JobQueue } from '@mauntic/platform';
import { dedupWindowJob } from './dedup-window.ts';
import type { IntegrationsDeps } from './deps.ts';
import { createIngest } from './ingest.ts';
import { createSource, deleteSource, getSource, listSources, rollSourceWriteKey } from './sources.ts';
import {
  attemptsOf,
  listWebhookDeliveries,
  replayWebhookDeliveries,
  replayWebhookDelivery,
} from './webhook-deliveries.ts';
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  disableWebhookEndpoint,
  enableWebhookEndpoint,
  getWebhookEndpoint,
  listWebhookEndpoints,
  rotateWebhookSecret,
  updateWebhookEndpoint,
} from './webhook-endpoints.ts';

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
    createWebhookEndpoint: bind(createWebhookEndpoint),
    updateWebhookEndpoint: bind(updateWebhookEndpoint),
    deleteWebhookEndpoint: bind(deleteWebhookEndpoint),
    rotateWebhookSecret: bind(rotateWebhookSecret),
    enableWebhookEndpoint: bind(enableWebhookEndpoint),
    disableWebhookEndpoint: bind(disableWebhookEndpoint),
    getWebhookEndpoint: bind(getWebhookEndpoint),
    listWebhookEndpoints: bind(listWebhookEndpoints),
    listWebhookDeliveries: bind(listWebhookDeliveries),
    webhookAttempts: bind(attemptsOf),
    replayWebhookDelivery: bind(replayWebhookDelivery),
    replayWebhookDeliveries: bind(replayWebhookDeliveries),
    ingest: createIngest(deps),
    dedupWindow: queue ? dedupWindowJob(deps, queue) : undefined,
  };
}

export type IntegrationsServices = ReturnType<typeof createIntegrationsServices>;
