import { createBuilder, type SubgraphContext } from '@mauntic/platform';
import type { JourneyServices } from '../app/services.ts';

export const builder = createBuilder();

/** The journey use cases, from the request context. */
export const services = (ctx: SubgraphContext) => ctx.services as JourneyServices;
