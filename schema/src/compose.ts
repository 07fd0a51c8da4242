// Prints each subgraph's SDL (with its federation directives) and composes the supergraph.

import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { assertValidSchema, extendSchema, parse } from 'graphql';
import { SUBGRAPHS } from './subgraphs.ts';

export interface ComposedSchemas {
  subgraphs: { name: string; sdl: string }[];
  supergraph: string;
}

export function composeSupergraph(): ComposedSchemas {
  const subgraphs = SUBGRAPHS.map((s) => ({ name: s.name, url: s.defaultUrl, sdl: printSubgraphSchema(s.schema) }));
  const result = composeServices(subgraphs.map((s) => ({ name: s.name, typeDefs: parse(s.sdl), url: s.url })));
  if (result.errors?.length) {
    throw new Error(`supergraph composition failed:\n${result.errors.map((e) => `  - ${e.message}`).join('\n')}`);
  }
  // The gateway's own Subscription type (subscriptions.graphql) must still extend the composed API schema.
  const subscriptions = readFileSync(new URL('../subscriptions.graphql', import.meta.url), 'utf8');
  try {
    assertValidSchema(extendSchema(result.schema!.toAPISchema().toGraphQLJSSchema(), parse(subscriptions)));
  } catch (error) {
    throw new Error(
      `schema/subscriptions.graphql does not extend the supergraph's API schema: ${(error as Error).message}`,
    );
  }
  return { subgraphs: subgraphs.map(({ name, sdl }) => ({ name, sdl })), supergraph: result.supergraphSdl ?? '' };
}
