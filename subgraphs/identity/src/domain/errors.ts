import { ConflictError, DomainError } from '@mauntic/kernel';

export class WeakPasswordError extends DomainError {
  readonly type = 'weak_password' as const;
  readonly code = 'WEAK_PASSWORD';
  constructor(readonly reasons: string[]) {
    super(`The password is too weak: ${reasons.join('; ')}`);
  }
}

export class EmailTakenError extends ConflictError {
  override readonly code = 'EMAIL_TAKEN';
  constructor() {
    super('An account with this email address already exists');
  }
}

/** One error for unknown email and wrong password alike, so no one can probe which emails exist. */
export class InvalidCredentialsError extends DomainError {
  readonly type = 'invalid_credentials' as const;
  readonly code = 'INVALID_CREDENTIALS';
  constructor() {
    super('The email address or password is not correct');
  }
}

export class InvalidTokenError extends DomainError {
  readonly type = 'invalid_token' as const;
  readonly code = 'INVALID_TOKEN';
  constructor(readonly reason: 'expired' | 'invalid' | 'revoked') {
    super(`The token is ${reason}`);
  }
}
