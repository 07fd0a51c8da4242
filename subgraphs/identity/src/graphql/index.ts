// The identity subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder';
import './schema/errors';
import './schema/user';
import './schema/session';
import './schema/viewer';
import './schema/member';
import './schema/api-key';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
