// The delivery subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder.ts';
import './schema/message.ts';
import './schema/template.ts';
import './schema/provider.ts';
import './schema/suppression.ts';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
