// The expected failures: the shared ones (scalars and the Error interface come with them) and
// the campaign context's own, as mutation payloads show them.
import { addCommonTypes } from '@mauntic/platform';
import { CampaignTransitionError } from '../../domain/errors.ts';
import { builder } from '../builder.ts';
import { CampaignStatusEnum } from './campaign-status.ts';

const { ErrorInterface } = addCommonTypes(builder);

builder.objectType(CampaignTransitionError, {
  name: 'CampaignTransitionError',
  description: "The campaign's status does not allow this (pausing a draft, editing a campaign that is sending...).",
  interfaces: [ErrorInterface],
  fields: (t) => ({
    status: t.field({ type: CampaignStatusEnum, resolve: (e) => e.status }),
    action: t.exposeString('action', { description: 'edit, launch, pause, resume, cancel or pickWinner' }),
  }),
});
