// The CRM subgraph schema. Building it needs no database: resolvers reach the use cases
// through the request context.
import { FEDERATION } from '@mauntic/platform';
import { builder } from './builder.ts';
import './schema/errors.ts';
import './schema/contact.ts';
import './schema/batch-upsert-contacts-result.ts';
import './schema/field-definition.ts';
import './schema/stage.ts';
import './schema/segment.ts';
import './schema/contact-import.ts';
import './schema/contact-export-link.ts';
import './schema/company.ts';
import './schema/note.ts';
import './schema/activity.ts';
import './schema/point-rule.ts';
import './schema/point-group.ts';
import './schema/point-trigger.ts';
import './schema/category.ts';

builder.queryType({});
builder.mutationType({});

export const schema = builder.toSubGraphSchema(FEDERATION);
