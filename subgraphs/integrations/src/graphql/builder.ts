import { createBuilder, type SubgraphContext } from '@mauntic/platform';
import type { IntegrationsServices } from '../app/services.ts';

export const builder = createBuilder();

/** The integrations use cases, from the request context. */
export const services = (ctx: SubgraphContext) => ctx.services as IntegrationsServices;
