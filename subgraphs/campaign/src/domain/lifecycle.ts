// A campaign's lifecycle:
//
//   draft --launch--> sending            (send now)
//   draft --launch--> scheduled --start--> sending   (at a time; the sender starts it when due)
//   scheduled | sending --pause--> paused --resume--> scheduled (not started yet) | sending
//   sending --complete--> completed      (the sender, once every recipient has been handed over)
//   scheduled | sending | paused --cancel--> cancelled
//
// Only a draft is edited. completed and cancelled are final. An A/B test's winner may be picked by
// hand while the campaign is sending or paused.
import { fail, ok, type Result } from '@mauntic/kernel';
import { CampaignTransitionError } from './errors.ts';

export const CAMPAIGN_STATUSES = ['draft', 'scheduled', 'sending', 'paused', 'completed', 'cancelled'] as const;
export type CampaignStatus = (typeof CAMPAIGN_STATUSES)[number];

export type CampaignAction =
  | 'edit'
  | 'launch'
  | 'schedule'
  | 'start'
  | 'pause'
  | 'resume'
  | 'cancel'
  | 'complete'
  | 'pickWinner';

const MOVES: Record<CampaignAction, Partial<Record<CampaignStatus, CampaignStatus>>> = {
  edit: { draft: 'draft' },
  launch: { draft: 'sending' },
  schedule: { draft: 'scheduled' },
  start: { scheduled: 'sending' },
  pause: { scheduled: 'paused', sending: 'paused' },
  // Where a resumed campaign goes depends on whether it had started (see `transition`).
  resume: { paused: 'sending' },
  cancel: { scheduled: 'cancelled', sending: 'cancelled', paused: 'cancelled' },
  complete: { sending: 'completed' },
  // An A/B test's winner, by hand, while its sample is out.
  pickWinner: { sending: 'sending', paused: 'paused' },
};

/**
 * The status after `action`, or the typed refusal when `status` does not allow it. A paused
 * campaign that had not started yet goes back to waiting for its time.
 */
export function transition(
  status: CampaignStatus,
  action: CampaignAction,
  started = true,
): Result<CampaignStatus, CampaignTransitionError> {
  const next = MOVES[action][status];
  if (!next) return fail(new CampaignTransitionError(status, action));
  return ok(action === 'resume' && !started ? 'scheduled' : next);
}
