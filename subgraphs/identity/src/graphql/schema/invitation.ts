import { unwrap } from '@mauntic/kernel';
import { COMMON_ERRORS } from '@mauntic/platform';
import type { InvitationRow } from '../../app/members.ts';
import { builder, services } from '../builder.ts';
import { RoleEnum } from './role.ts';

const Invitation = builder.objectRef<{ invitation: InvitationRow; token: string }>('Invitation').implement({
  fields: (t) => ({
    id: t.id({ resolve: (i) => i.invitation.id }),
    email: t.string({ resolve: (i) => i.invitation.email }),
    role: t.field({ type: RoleEnum, resolve: (i) => i.invitation.role }),
    expiresAt: t.field({ type: 'DateTime', resolve: (i) => i.invitation.expiresAt }),
    token: t.string({
      description: 'Shown once: pass it to the invited person, who accepts with acceptInvitation',
      resolve: (i) => i.token,
    }),
  }),
});

const InviteMemberInput = builder.inputType('InviteMemberInput', {
  fields: (t) => ({
    email: t.field({ type: 'EmailAddress', required: true }),
    role: t.field({ type: RoleEnum, required: true }),
  }),
});

builder.mutationField('inviteMember', (t) =>
  t.field({
    description:
      'Invites a person to your organization with a role. Admins and owners only; only owners invite owners.',
    type: Invitation,
    args: { input: t.arg({ type: InviteMemberInput, required: true }) },
    errors: { types: [...COMMON_ERRORS] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).inviteMember(ctx.request, input)),
  }),
);
