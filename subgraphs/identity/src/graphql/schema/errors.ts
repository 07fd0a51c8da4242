// The expected failures: the shared ones (scalars and the Error interface come with them) and identity's own.
import { addCommonTypes } from '@mauntic/platform';
import { EmailTakenError, InvalidCredentialsError, InvalidTokenError, WeakPasswordError } from '../../domain/errors.ts';
import { builder } from '../builder.ts';

const { ErrorInterface } = addCommonTypes(builder);

builder.objectType(WeakPasswordError, {
  name: 'WeakPasswordError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ reasons: t.exposeStringList('reasons') }),
});

builder.objectType(EmailTakenError, { name: 'EmailTakenError', interfaces: [ErrorInterface], fields: () => ({}) });

builder.objectType(InvalidCredentialsError, {
  name: 'InvalidCredentialsError',
  interfaces: [ErrorInterface],
  fields: () => ({}),
});

builder.objectType(InvalidTokenError, {
  name: 'InvalidTokenError',
  interfaces: [ErrorInterface],
  fields: (t) => ({ reason: t.exposeString('reason', { description: 'expired, invalid or revoked' }) }),
});
