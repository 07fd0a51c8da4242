// Every expected failure of the campaign context that is its own (the kernel's validation, not
// found, unauthenticated and forbidden errors are shared by all contexts).
import { DomainError } from '@mauntic/kernel';
import type { CampaignAction, CampaignStatus } from './lifecycle.ts';

/** A move the campaign's status does not allow (pausing a draft, editing a campaign that is sending). */
export class CampaignTransitionError extends DomainError {
  readonly type = 'campaign_transition' as const;
  readonly code = 'CAMPAIGN_ILLEGAL_TRANSITION';
  constructor(
    readonly status: CampaignStatus,
    readonly action: CampaignAction,
  ) {
    super(`the campaign is ${status}: it cannot be ${PAST[action]}`);
  }
}

const PAST: Record<CampaignAction, string> = {
  edit: 'edited',
  launch: 'launched',
  schedule: 'scheduled',
  start: 'started',
  pause: 'paused',
  resume: 'resumed',
  cancel: 'cancelled',
  complete: 'completed',
  pickWinner: 'given a winner',
};
