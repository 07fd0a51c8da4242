// The campaign context's use cases, bound to their dependencies.
import { chooseWinner } from './ab-test.ts';
import { cancelCampaign, launchCampaign, pauseCampaign, resumeCampaign } from './campaign-lifecycle.ts';
import { audienceCount, campaignStats, clickMap } from './campaign-stats.ts';
import { createCampaign, getCampaign, listCampaigns, updateCampaign } from './campaigns.ts';
import { campaignConsumers } from './consumers.ts';
import type { CampaignDeps } from './deps.ts';
import { sendCampaignTest } from './test-send.ts';

export function createCampaignServices(deps: CampaignDeps) {
  const bind =
    <A extends unknown[], R>(fn: (deps: CampaignDeps, ...args: A) => R) =>
    (...args: A) =>
      fn(deps, ...args);
  return {
    deps,
    createCampaign: bind(createCampaign),
    updateCampaign: bind(updateCampaign),
    launchCampaign: bind(launchCampaign),
    pauseCampaign: bind(pauseCampaign),
    resumeCampaign: bind(resumeCampaign),
    cancelCampaign: bind(cancelCampaign),
    chooseWinner: bind(chooseWinner),
    sendCampaignTest: bind(sendCampaignTest),
    getCampaign: bind(getCampaign),
    listCampaigns: bind(listCampaigns),
    audienceCount: bind(audienceCount),
    campaignStats: bind(campaignStats),
    clickMap: bind(clickMap),
    subscriptions: () => campaignConsumers(deps),
  };
}

export type CampaignServices = ReturnType<typeof createCampaignServices>;
