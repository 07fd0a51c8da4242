// The delivery subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder';
import './schema/message';
import './schema/template';
import './schema/provider';
import './schema/suppression';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
