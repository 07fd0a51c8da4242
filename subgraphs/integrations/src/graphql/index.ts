// The integrations subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder.ts';
import './schema/errors.ts';
// This order is the order of the Query and Mutation fields in the printed SDL.
import './schema/source.ts';
import './schema/webhook.ts';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
