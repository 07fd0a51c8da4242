// The delivery subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder.ts';
import './schema/errors.ts';
// This order is the order of the Query and Mutation fields in the printed SDL.
import './schema/message.ts';
import './schema/push-messages.ts';
import './schema/push-token-registration.ts';
import './schema/delivery-stats.ts';
import './schema/template.ts';
import './schema/template-preview.ts';
import './schema/provider.ts';
import './schema/suppression.ts';
import './schema/delivery-settings.ts';
import './schema/sending-domain.ts';
import './schema/ip-pool.ts';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
