// PushMessages: what a push request became, one message per device; sendPush returns it.
import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import type { MessageRow } from '../../app/send.ts';
import { IdempotencyConflictError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';
import { Message, SendInput, sendArgs } from './message.ts';

const PushMessages = builder.objectRef<{ messages: MessageRow[] }>('PushMessages').implement({
  description: 'The messages of one push request: one per device',
  fields: (t) => ({ messages: t.field({ type: [Message], resolve: (p) => p.messages }) }),
});

builder.mutationField('sendPush', (t) =>
  t.field({
    type: PushMessages,
    description:
      'Queues one push message per device: to a contact, every token it registered (each keyed by the idempotency key and the token, so a device registered since gets its own when the request is made again); to a bare token, that one.',
    args: { input: t.arg({ type: SendInput, required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError, IdempotencyConflictError] },
    resolve: async (_, { input }, ctx) => ({
      messages: unwrap(await services(ctx).sendPush(ctx.request, sendArgs(input))),
    }),
  }),
);
