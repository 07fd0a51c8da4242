// The supergraph the gateway serves: a file composed at build time (`pnpm schema`), by default
// the one the @mauntic/schema package ships, or SUPERGRAPH_PATH (a mounted ConfigMap). The
// subgraphs it names, and where each serves GraphQL, are read from its @join__graph values.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { type EnumTypeDefinitionNode, Kind, parse, type StringValueNode } from 'graphql';

export interface Supergraph {
  sdl: string;
  subgraphs: { name: string; url: string }[];
}

export const DEFAULT_SUPERGRAPH_PATH = createRequire(import.meta.url).resolve('@mauntic/schema/supergraph.graphql');

export function loadSupergraph(path: string = DEFAULT_SUPERGRAPH_PATH): Supergraph {
  const sdl = readFileSync(path, 'utf8');
  const graphs = parse(sdl).definitions.find(
    (d): d is EnumTypeDefinitionNode => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'join__Graph',
  );
  const subgraphs = (graphs?.values ?? []).map((value) => {
    const directive = value.directives?.find((d) => d.name.value === 'join__graph');
    const arg = (name: string) =>
      (directive?.arguments?.find((a) => a.name.value === name)?.value as StringValueNode | undefined)?.value;
    const name = arg('name');
    const url = arg('url');
    if (!name || !url) throw new Error(`${path}: join__Graph.${value.name.value} has no name or url`);
    return { name, url };
  });
  if (!subgraphs.length) throw new Error(`${path} names no subgraph: is it a composed supergraph?`);
  return { sdl, subgraphs };
}
