// Every expected failure of the delivery context: values with a `type` and a `code` that use
// cases return and the GraphQL schema shows as typed errors (or HTTP routes map to a status).
import { ConflictError, DomainError } from '@mauntic/kernel';

// --- Templates -----------------------------------------------------------------------------------

export type TemplateField =
  | 'mjml'
  | 'html'
  | 'subject'
  | 'preheader'
  | 'text'
  | 'body'
  | 'title'
  | 'data'
  | 'imageUrl'
  | 'url'
  | 'headers';

export interface TemplateSyntaxIssue {
  field: TemplateField;
  /** The locale variant the field belongs to; null for the default content. */
  locale: string | null;
  /** 1-based line within the field's source. */
  line: number;
  /** 1-based column within that line. */
  column: number;
  message: string;
}

/**
 * Saving a template failed on a syntax error in one of its fields, with the place (1-based line
 * and column within that field's source) so an editor can point at it.
 */
export class TemplateSyntaxError extends DomainError {
  readonly type = 'template_syntax' as const;
  readonly code = 'TEMPLATE_SYNTAX_ERROR';
  readonly field: TemplateField;
  readonly locale: string | null;
  readonly line: number;
  readonly column: number;

  /** The first issue is the one the top-level fields describe; MJML validation may report several. */
  constructor(readonly issues: [TemplateSyntaxIssue, ...TemplateSyntaxIssue[]]) {
    const first = issues[0];
    super(first.message);
    this.field = first.field;
    this.locale = first.locale;
    this.line = first.line;
    this.column = first.column;
  }
}

export class TemplateNameTakenError extends ConflictError {
  override readonly code = 'TEMPLATE_NAME_TAKEN';
  constructor(readonly takenName: string) {
    super(`a template named ${takenName} exists`);
  }
}

// --- Sending -------------------------------------------------------------------------------------

export class IdempotencyConflictError extends ConflictError {
  override readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor(readonly idempotencyKey: string) {
    super(`idempotency key ${idempotencyKey} was used for a different message`);
  }
}

// --- Providers -----------------------------------------------------------------------------------

export class ProviderNameTakenError extends ConflictError {
  override readonly code = 'PROVIDER_NAME_TAKEN';
  constructor(readonly takenName: string) {
    super(`a provider named ${takenName} exists`);
  }
}

// --- Provider webhooks ---------------------------------------------------------------------------
// Why a provider webhook was refused. The HTTP layer answers 401/403 for the signature and trust
// errors and 400 for the payload ones; none of them should be retried by the provider as is.

export class InvalidSignatureError extends DomainError {
  readonly type = 'invalid_signature' as const;
  readonly code = 'WEBHOOK_SIGNATURE_INVALID';
}

export class InvalidPayloadError extends DomainError {
  readonly type = 'invalid_payload' as const;
  readonly code = 'WEBHOOK_PAYLOAD_INVALID';
}

/** The request is signed, but by a party we do not trust (certificate host, topic, age). */
export class UntrustedSenderError extends DomainError {
  readonly type = 'untrusted_sender' as const;
  readonly code = 'WEBHOOK_SENDER_UNTRUSTED';
}

/** Signed too long ago: a replay, or a clock far off. */
export class StaleWebhookError extends DomainError {
  readonly type = 'stale' as const;
  readonly code = 'WEBHOOK_STALE';
}

export type WebhookError = InvalidSignatureError | InvalidPayloadError | UntrustedSenderError | StaleWebhookError;

// --- Sending domains -----------------------------------------------------------------------------

export class SendingDomainTakenError extends ConflictError {
  override readonly code = 'SENDING_DOMAIN_TAKEN';
  constructor(readonly domain: string) {
    super(`the sending domain ${domain} is already added`);
  }
}

/** Marketing email from a sending domain whose SPF, DKIM, DMARC and return-path records are not verified. */
export class UnverifiedSendingDomainError extends DomainError {
  readonly type = 'unverified_sending_domain' as const;
  readonly code = 'SENDING_DOMAIN_UNVERIFIED';
  constructor(readonly domain: string) {
    super(`marketing email from ${domain} needs its DNS records verified first`);
  }
}

// --- Spam scoring --------------------------------------------------------------------------------

/** The spam checker (Rspamd, DELIVERY_RSPAMD_URL) did not answer; the preview itself stands. */
export class SpamCheckUnavailableError extends DomainError {
  readonly type = 'spam_check_unavailable' as const;
  readonly code = 'SPAM_CHECK_UNAVAILABLE';
  constructor() {
    super('the spam checker did not answer; try the preview again later');
  }
}

// --- IP pools ------------------------------------------------------------------------------------

export class IpPoolNameTakenError extends ConflictError {
  override readonly code = 'IP_POOL_NAME_TAKEN';
  constructor(readonly takenName: string) {
    super(`an IP pool named ${takenName} exists`);
  }
}

/** An address is in one pool of an organization at most: its warm-up and reputation are its own. */
export class SendingIpTakenError extends ConflictError {
  override readonly code = 'SENDING_IP_TAKEN';
  constructor(readonly ip: string) {
    super(`${ip} is already in another IP pool`);
  }
}

/** Not one of the platform's sending addresses (DELIVERY_SENDING_IPS): mail cannot leave from it. */
export class SendingIpNotAllowedError extends DomainError {
  readonly type = 'sending_ip_not_allowed' as const;
  readonly code = 'SENDING_IP_NOT_ALLOWED';
  constructor(readonly ip: string) {
    super(`${ip} is not one of the platform's sending addresses`);
  }
}
