// Expected failures are values: each has a `type` discriminant and becomes a typed GraphQL
// error in a mutation payload. Unexpected failures are plain thrown Errors.

export interface FieldIssue {
  path: string[];
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly type: string;
  /** A stable, machine-readable code (CONSTANT_CASE), the same one clients see. */
  abstract readonly code: string;
}

export class ValidationError extends DomainError {
  readonly type = 'validation' as const;
  readonly code = 'VALIDATION_FAILED';
  constructor(
    readonly issues: FieldIssue[],
    message = issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; '),
  ) {
    super(message);
  }
}

export class NotFoundError extends DomainError {
  readonly type = 'not_found' as const;
  readonly code = 'NOT_FOUND';
  constructor(
    readonly entity: string,
    readonly id: string,
  ) {
    super(`${entity} ${id} was not found`);
  }
}

export class ConflictError extends DomainError {
  readonly type = 'conflict' as const;
  readonly code: string = 'CONFLICT';
}

export class UnauthenticatedError extends DomainError {
  readonly type = 'unauthenticated' as const;
  readonly code = 'UNAUTHENTICATED';
  constructor(message = 'Authentication is required') {
    super(message);
  }
}

export class ForbiddenError extends DomainError {
  readonly type = 'forbidden' as const;
  readonly code = 'FORBIDDEN';
  constructor(
    readonly required: string,
    message = `This needs ${required}`,
  ) {
    super(message);
  }
}

export type Result<T, E extends DomainError = DomainError> = { ok: true; value: T } | { ok: false; error: E };

export const ok = <T>(value: T): { ok: true; value: T } => ({ ok: true, value });
export const fail = <E extends DomainError>(error: E): { ok: false; error: E } => ({ ok: false, error });

/** Returns the value or throws the domain error (the GraphQL errors plugin turns it into a typed error). */
export function unwrap<T>(result: { ok: true; value: T } | { ok: false; error: DomainError }): T {
  if (result.ok) return result.value;
  throw result.error;
}
