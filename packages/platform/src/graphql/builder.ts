// The one Pothos builder setup every subgraph uses. Plugin option types are global to a
// TypeScript program, so all subgraphs must share exactly this configuration.
import type { RequestContext } from '@mauntic/kernel';
import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import ErrorsPlugin from '@pothos/plugin-errors';
import FederationPlugin from '@pothos/plugin-federation';
import RelayPlugin from '@pothos/plugin-relay';
import type { Logger } from '../logger.ts';
import { inputGuardPlugin } from './input-guard.ts';

export interface SubgraphContext {
  request: RequestContext;
  log: Logger;
  /** The subgraph's use cases; each subgraph reads it through its own typed accessor. */
  services: unknown;
}

export interface BuilderTypes {
  Context: SubgraphContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
    EmailAddress: { Input: string; Output: string };
  };
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

export function createBuilder() {
  return new SchemaBuilder<BuilderTypes>({
    // The input guard sits inside the errors plugin, which turns what it throws into payloads.
    plugins: [ErrorsPlugin, inputGuardPlugin, DirectivesPlugin, FederationPlugin, RelayPlugin],
    defaultFieldNullability: false,
    errors: {
      directResult: true,
      defaultUnionOptions: { name: ({ fieldName }) => `${capitalize(fieldName)}Payload` },
      defaultResultOptions: { name: ({ fieldName }) => `${capitalize(fieldName)}Success` },
    },
    relay: {
      clientMutationId: 'omit',
      cursorType: 'String',
      nodeQueryOptions: false,
      nodesQueryOptions: false,
      pageInfoTypeOptions: { shareable: true },
    },
  });
}

export type Builder = ReturnType<typeof createBuilder>;
