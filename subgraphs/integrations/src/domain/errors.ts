// Every expected failure of the integrations context that is its own (the kernel's validation,
// not found, unauthenticated and forbidden errors are shared by all contexts).
import { DomainError } from '@mauntic/kernel';

/**
 * A webhook URL the platform will not call: not http(s), with credentials in it, or a host that is
 * (or resolves to) a loopback, private, link-local or metadata address that OUTBOUND_ALLOWED_HOSTS
 * does not name, or that does not resolve at all.
 */
export class WebhookUrlRefusedError extends DomainError {
  readonly type = 'webhook_url_refused' as const;
  readonly code = 'WEBHOOK_URL_REFUSED';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`${url} cannot be a webhook endpoint: ${reason}`);
  }
}

/** The organization has as many webhook endpoints as it may (WEBHOOK_MAX_ENDPOINTS): nothing was created. */
export class WebhookEndpointLimitError extends DomainError {
  readonly type = 'webhook_endpoint_limit' as const;
  readonly code = 'WEBHOOK_ENDPOINT_LIMIT';
  constructor(readonly limit: number) {
    super(`an organization has at most ${limit} webhook endpoints: delete one first`);
  }
}

/** The endpoint is disabled: deliveries cannot be replayed to it until it is enabled again. */
export class WebhookEndpointDisabledError extends DomainError {
  readonly type = 'webhook_endpoint_disabled' as const;
  readonly code = 'WEBHOOK_ENDPOINT_DISABLED';
  constructor(
    readonly endpointId: string,
    readonly reason: string | null,
  ) {
    super(`webhook endpoint ${endpointId} is disabled${reason ? ` (${reason})` : ''}`);
  }
}
