// Every subgraph the gateway composes, with its schema (for SDL printing and composition) and
// the variable that points at it in cluster mode.
import { schema as crmSchema } from '@mauntic/crm/schema';
import { schema as deliverySchema } from '@mauntic/delivery/schema';
import { schema as identitySchema } from '@mauntic/identity/schema';
import type { GraphQLSchema } from 'graphql';

export interface SubgraphEntry {
  name: string;
  schema: GraphQLSchema;
  /** Cluster mode: where the subgraph serves GraphQL. */
  urlVariable: string;
  defaultUrl: string;
}

export const SUBGRAPHS: SubgraphEntry[] = [
  {
    name: 'identity',
    schema: identitySchema,
    urlVariable: 'IDENTITY_URL',
    defaultUrl: 'http://127.0.0.1:4001/graphql',
  },
  { name: 'crm', schema: crmSchema, urlVariable: 'CRM_URL', defaultUrl: 'http://127.0.0.1:4002/graphql' },
  {
    name: 'delivery',
    schema: deliverySchema,
    urlVariable: 'DELIVERY_URL',
    defaultUrl: 'http://127.0.0.1:4003/graphql',
  },
];
