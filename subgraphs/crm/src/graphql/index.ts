// The CRM subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder';
import './schema/contact';
import './schema/attributes';
import './schema/segment';
import './schema/import';
import './schema/relations';
import './schema/point-rule';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
