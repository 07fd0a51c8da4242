// The CRM subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder.ts';
import './schema/contact.ts';
import './schema/attributes.ts';
import './schema/segment.ts';
import './schema/import.ts';
import './schema/relations.ts';
import './schema/point-rule.ts';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
