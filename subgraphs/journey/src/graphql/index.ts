// The journey subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder.ts';
import './schema/errors.ts';
import './schema/enrollment.ts';

builder.queryType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
