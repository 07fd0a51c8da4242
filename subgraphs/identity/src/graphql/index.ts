// The identity subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder.ts';
import './schema/errors.ts';
import './schema/role.ts';
import './schema/user.ts';
import './schema/organization.ts';
import './schema/session.ts';
import './schema/viewer.ts';
import './schema/member.ts';
import './schema/invitation.ts';
import './schema/api-key.ts';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
