// One set of contact loaders per request (the subgraph context): a request's contact fields are
// batched together, never with another request's.
import type { SubgraphContext } from '@mauntic/platform';
import type { ContactLoaders } from '../app/contact-loaders.ts';
import { services } from './builder.ts';

const perRequest = new WeakMap<SubgraphContext, ContactLoaders>();

export function loaders(ctx: SubgraphContext): ContactLoaders {
  let set = perRequest.get(ctx);
  if (!set) {
    set = services(ctx).contactLoaders();
    perRequest.set(ctx, set);
  }
  return set;
}
