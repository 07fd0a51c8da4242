// Every expected failure of the CRM context that is its own (the kernel's validation, not found,
// unauthenticated and forbidden errors are shared by all contexts).
import { ConflictError } from '@mauntic/kernel';

export class ContactEmailTakenError extends ConflictError {
  override readonly code = 'CONTACT_EMAIL_TAKEN';
  constructor(readonly email: string) {
    super(`A contact with email ${email} already exists`);
  }
}

export class FieldKeyTakenError extends ConflictError {
  override readonly code = 'FIELD_KEY_TAKEN';
}
