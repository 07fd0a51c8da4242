// The campaign context's events: its campaigns' lifecycle and A/B tests, keyed by the campaign.
// The send requests a campaign makes are delivery's (delivery.message.requested).
import { z } from 'zod';
import { defineEvent } from '../events/envelope.ts';

const campaign = {
  name: z.string().min(1).max(200),
};

/** The campaign started: its recipients were chosen, once, and their send requests go out. */
export const campaignLaunched = defineEvent(
  'campaign.campaign.launched',
  1,
  'campaign',
  z.object({
    ...campaign,
    channel: z.enum(['email', 'sms', 'push']),
    /** How many contacts it will reach (segments minus exclusions, do-not-contact and deleted). */
    recipients: z.number().int().min(0),
  }),
);

/** No further send request goes out until it is resumed. */
/**
 * A batch of its recipients went to delivery (or was passed by, having left the audience): where
 * the launch stands, for progress bars and subscribers.
 */
export const campaignProgressed = defineEvent(
  'campaign.campaign.progressed',
  1,
  'campaign',
  z.object({
    ...campaign,
    recipients: z.number().int().min(0),
    requested: z.number().int().min(0),
    skipped: z.number().int().min(0),
  }),
);
export const campaignPaused = defineEvent('campaign.campaign.paused', 1, 'campaign', z.object(campaign));
export const campaignResumed = defineEvent('campaign.campaign.resumed', 1, 'campaign', z.object(campaign));
/** Every recipient's send request has gone to delivery. */
export const campaignCompleted = defineEvent(
  'campaign.campaign.completed',
  1,
  'campaign',
  z.object({ ...campaign, requested: z.number().int().min(0) }),
);
/** Stopped for good: the recipients not handed over yet get nothing. */
export const campaignCancelled = defineEvent(
  'campaign.campaign.cancelled',
  1,
  'campaign',
  z.object({ ...campaign, requested: z.number().int().min(0) }),
);

/** An A/B test's winner, chosen by its criterion after its window or by hand; the rest get it. */
export const variantWon = defineEvent(
  'campaign.variant.won',
  1,
  'campaign',
  z.object({
    ...campaign,
    variant: z.string().min(1).max(10),
    /** opens, clicks, conversions or manual. */
    decidedBy: z.enum(['opens', 'clicks', 'conversions', 'manual']),
    /** Each variant's score under the criterion (unique human opens, unique clicks, conversions). */
    scores: z.record(z.string(), z.number()),
  }),
);
