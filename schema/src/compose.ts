// Prints each subgraph's SDL (with its federation directives) and composes the supergraph.
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
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
  return { subgraphs: subgraphs.map(({ name, sdl }) => ({ name, sdl })), supergraph: result.supergraphSdl ?? '' };
}
