import { NotFoundError, unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import { builder, services } from '../builder.ts';
import { ContactRef } from './contact.ts';

const PushTokenRegistration = builder.objectRef<{ contactId: string }>('PushTokenRegistration').implement({
  fields: (t) => ({ contact: t.field({ type: ContactRef, resolve: (r) => ({ id: r.contactId }) }) }),
});

builder.mutationField('registerPushToken', (t) =>
  t.field({
    type: PushTokenRegistration,
    args: { contactId: t.arg.id({ required: true }), token: t.arg.string({ required: true }) },
    errors: { types: [...COMMON_ERRORS, NotFoundError] },
    resolve: async (_, args, ctx) => {
      unwrap(
        await services(ctx).registerPushToken(ctx.request, { contactId: String(args.contactId), token: args.token }),
      );
      return { contactId: String(args.contactId) };
    },
  }),
);
