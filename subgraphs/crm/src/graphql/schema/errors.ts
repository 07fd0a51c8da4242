// The CRM context's own expected failures, as GraphQL error types.
import { ContactEmailTakenError, FieldKeyTakenError } from '../../domain/errors.ts';
import { builder, ErrorInterface } from '../builder.ts';

builder.objectType(ContactEmailTakenError, {
  name: 'ContactEmailTakenError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ email: t.exposeString('email') }),
});

builder.objectType(FieldKeyTakenError, {
  name: 'FieldKeyTakenError',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});
