import { createBuilder, type SubgraphContext } from '@mauntic/platform';
import type { CampaignServices } from '../app/services.ts';

export const builder = createBuilder();

/** The campaign use cases, from the request context. */
export const services = (ctx: SubgraphContext) => ctx.services as CampaignServices;
