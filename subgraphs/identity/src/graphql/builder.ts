import { createBuilder, type SubgraphContext } from '@mauntic/platform';
import type { IdentityServices } from '../app/services.ts';

export const builder = createBuilder();

/** The identity use cases, from the request context. */
export const services = (ctx: SubgraphContext) => ctx.services as IdentityServices;
