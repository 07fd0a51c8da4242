// The delivery context's use cases, bound to their dependencies.

import { deliveryConsumers } from './consumers.ts';
import type { DeliveryDeps } from './deps.ts';
import { applyFeedback } from './feedback.ts';
import {
  addPoolIp,
  assignIpPool,
  createIpPool,
  deleteIpPool,
  getIpPool,
  listIpPools,
  removePoolIp,
  updateIpPool,
} from './ip-pools.ts';
import { getLocalOutboxMessage, listLocalOutbox } from './local-outbox-reader.ts';
import { deliveryStats, getMessage, listMessages } from './messages.ts';
import type { ProviderRow } from './providers.ts';
import {
  createProviderConfig,
  deleteProviderConfig,
  listProviderConfigs,
  secretFieldsSet,
  updateProviderConfig,
} from './providers.ts';
import { registerPushToken, sendMessage, sendPush } from './send.ts';
import { expirePendingJob, expirePendingRequests } from './send-requests.ts';
import {
  addSendingDomain,
  deleteSendingDomain,
  getSendingDomain,
  listSendingDomains,
  recheckSendingDomainsJob,
  rotateDkimKeys,
  scheduleRecheck,
  verifySendingDomain,
} from './sending-domains.ts';
import { getSettings, updateSettings } from './settings.ts';
import { addSuppression, listSuppressions, removeSuppression } from './suppressions.ts';
import {
  createTemplate,
  deleteTemplate,
  getTemplate,
  listTemplates,
  previewTemplate,
  scorePreview,
  updateTemplate,
} from './templates.ts';
import { preferencesOf, resubscribe, trackClick, trackOpen, unsubscribe } from './tracking.ts';
import { receiveWebhook } from './webhooks.ts';

export function createDeliveryServices(deps: DeliveryDeps) {
  const bind =
    <A extends unknown[], R>(fn: (deps: DeliveryDeps, ...args: A) => R) =>
    (...args: A) =>
      fn(deps, ...args);
  return {
    deps,
    sendMessage: bind(sendMessage),
    sendPush: bind(sendPush),
    registerPushToken: bind(registerPushToken),
    getMessage: bind(getMessage),
    listMessages: bind(listMessages),
    deliveryStats: bind(deliveryStats),
    createTemplate: bind(createTemplate),
    updateTemplate: bind(updateTemplate),
    deleteTemplate: bind(deleteTemplate),
    getTemplate: bind(getTemplate),
    listTemplates: bind(listTemplates),
    previewTemplate: bind(previewTemplate),
    scorePreview: bind(scorePreview),
    createProviderConfig: bind(createProviderConfig),
    updateProviderConfig: bind(updateProviderConfig),
    deleteProviderConfig: bind(deleteProviderConfig),
    listProviderConfigs: bind(listProviderConfigs),
    secretFieldsSet: (row: ProviderRow) => secretFieldsSet(deps, row),
    addSuppression: bind(addSuppression),
    removeSuppression: bind(removeSuppression),
    listSuppressions: bind(listSuppressions),
    addSendingDomain: bind(addSendingDomain),
    getSendingDomain: bind(getSendingDomain),
    listSendingDomains: bind(listSendingDomains),
    deleteSendingDomain: bind(deleteSendingDomain),
    verifySendingDomain: bind(verifySendingDomain),
    rotateDkimKeys: bind(rotateDkimKeys),
    listIpPools: bind(listIpPools),
    getIpPool: bind(getIpPool),
    createIpPool: bind(createIpPool),
    updateIpPool: bind(updateIpPool),
    deleteIpPool: bind(deleteIpPool),
    addPoolIp: bind(addPoolIp),
    removePoolIp: bind(removePoolIp),
    assignIpPool: bind(assignIpPool),
    getSettings: bind(getSettings),
    updateSettings: bind(updateSettings),
    applyFeedback: bind(applyFeedback),
    receiveWebhook: bind(receiveWebhook),
    trackOpen: bind(trackOpen),
    trackClick: bind(trackClick),
    unsubscribe: bind(unsubscribe),
    preferencesOf: bind(preferencesOf),
    resubscribe: bind(resubscribe),
    listLocalOutbox: bind(listLocalOutbox),
    getLocalOutboxMessage: bind(getLocalOutboxMessage),
    subscriptions: () => deliveryConsumers(deps),
    jobs: () => [expirePendingJob(deps), recheckSendingDomainsJob(deps)],
    /** Ends the send requests whose deadline passed while nothing was running, and schedules the next sweep. */
    expirePendingRequests: () => expirePendingRequests(deps),
    /** Schedules the daily check of every sending domain's records. */
    scheduleSendingDomainRecheck: () => scheduleRecheck(deps),
  };
}

export type DeliveryServices = ReturnType<typeof createDeliveryServices>;
