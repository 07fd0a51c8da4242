import { addCommonTypes, createBuilder, type SubgraphContext } from '@mauntic/platform';
import type { CrmServices } from '../app/services.ts';

export const builder = createBuilder();
export const { ErrorInterface } = addCommonTypes(builder);

/** The CRM use cases, from the request context. */
export const services = (ctx: SubgraphContext) => ctx.services as CrmServices;

/** The caller's organization; query fields are guarded by authScopes, so it is set. */
export const orgOf = (ctx: SubgraphContext) => ctx.request.organizationId!;
