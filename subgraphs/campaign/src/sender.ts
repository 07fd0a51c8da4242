// The campaign context as its fan-out (workers/campaign-sender, `pnpm start`) and the campaign
// benchmark reach it: `@mauntic/campaign/sender`, their one way in.
export { CampaignSender, type CampaignSenderOptions } from './app/campaign-sender.ts';
export { startDueCampaigns } from './app/fan-out.ts';
export { campaigns, contacts, outbox, recipients, segmentMemberships } from './db/schema.ts';
