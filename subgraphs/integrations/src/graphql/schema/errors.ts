// The expected failures: the shared ones (scalars and the Error interface come with them) and
// the integrations context's own, as mutation payloads show them.
import { addCommonTypes } from '@mauntic/platform';
import {
  WebhookEndpointDisabledError,
  WebhookEndpointLimitError,
  WebhookUrlRefusedError,
} from '../../domain/errors.ts';
import { builder } from '../builder.ts';

const { ErrorInterface } = addCommonTypes(builder);

builder.objectType(WebhookUrlRefusedError, {
  name: 'WebhookUrlRefusedError',
  description:
    'The URL cannot be a webhook endpoint: not http(s), credentials in it, or a private, loopback, link-local or ' +
    'metadata address the operator did not allow. Nothing was saved.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ url: t.exposeString('url'), reason: t.exposeString('reason') }),
});

builder.objectType(WebhookEndpointDisabledError, {
  name: 'WebhookEndpointDisabledError',
  description: 'The endpoint is disabled; enable it first. Nothing was replayed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    endpointId: t.exposeID('endpointId'),
    reason: t.exposeString('reason', { nullable: true }),
  }),
});

builder.objectType(WebhookEndpointLimitError, {
  name: 'WebhookEndpointLimitError',
  description: 'The organization has as many webhook endpoints as it may; delete one first. Nothing was created.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ limit: t.exposeInt('limit') }),
});
