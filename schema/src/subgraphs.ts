// Every subgraph composed into the supergraph, with the address it serves GraphQL at by default
// (one process per subgraph on this machine). The gateway takes the names and addresses from the
// supergraph it is given, and an environment variable can move each one (docs/configuration.md).
import { schema as campaignSchema } from '@mauntic/campaign/schema';
import { schema as crmSchema } from '@mauntic/crm/schema';
import { schema as deliverySchema } from '@mauntic/delivery/schema';
import { schema as identitySchema } from '@mauntic/identity/schema';
import { schema as integrationsSchema } from '@mauntic/integrations/schema';
import { schema as journeySchema } from '@mauntic/journey/schema';
import type { GraphQLSchema } from 'graphql';

export interface SubgraphEntry {
  name: string;
  schema: GraphQLSchema;
  defaultUrl: string;
}

export const SUBGRAPHS: SubgraphEntry[] = [
  { name: 'identity', schema: identitySchema, defaultUrl: 'http://127.0.0.1:4001/graphql' },
  { name: 'crm', schema: crmSchema, defaultUrl: 'http://127.0.0.1:4002/graphql' },
  { name: 'delivery', schema: deliverySchema, defaultUrl: 'http://127.0.0.1:4003/graphql' },
  { name: 'journey', schema: journeySchema, defaultUrl: 'http://127.0.0.1:4004/graphql' },
  { name: 'integrations', schema: integrationsSchema, defaultUrl: 'http://127.0.0.1:4005/graphql' },
  { name: 'campaign', schema: campaignSchema, defaultUrl: 'http://127.0.0.1:4006/graphql' },
];
