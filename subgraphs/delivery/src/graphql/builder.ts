import { createBuilder, type SubgraphContext } from '@mauntic/platform';
import type { DeliveryServices } from '../app/services.ts';

export const builder = createBuilder();

/** The delivery use cases, from the request context. */
export const services = (ctx: SubgraphContext) => ctx.services as DeliveryServices;
