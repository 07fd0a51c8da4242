import { addCommonTypes, createBuilder, type SubgraphContext } from '@mauntic/platform';
import type { CrmServices } from '../app/services.ts';

export const builder = createBuilder();
export const { ErrorInterface } = addCommonTypes(builder);

/** The CRM use cases, from the request context. */
export const services = (ctx: SubgraphContext) => ctx.services as CrmServices;
