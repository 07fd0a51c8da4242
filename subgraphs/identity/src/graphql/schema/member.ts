import { unwrap, ValidationError } from '@mauntic/kernel';
import { COMMON_ERRORS, connectionWithTotalCount, orThrow, pageWindow } from '@mauntic/platform';
import type { InvitationRow } from '../../app/members.ts';
import { EmailTakenError, InvalidCredentialsError, InvalidTokenError, WeakPasswordError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';
import { Session } from './session.ts';
import { RoleEnum, User } from './user.ts';

const Member = builder
  .objectRef<{ userId: string; role: 'owner' | 'admin' | 'editor' | 'viewer'; joinedAt: Date }>('Member')
  .implement({
    fields: (t) => ({
      user: t.field({
        type: User,
        resolve: async (m, _, ctx) => orThrow(await services(ctx).findMemberUser(ctx.request, m.userId))!,
      }),
      role: t.expose('role', { type: RoleEnum }),
      joinedAt: t.expose('joinedAt', { type: 'DateTime' }),
    }),
  });

builder.queryField('members', (t) =>
  t.connection(
    {
      type: Member,
      description: "Members of the caller's organization, newest first",
      resolve: async (_, args, ctx) => orThrow(await services(ctx).listMembers(ctx.request, pageWindow(args))),
    },
    connectionWithTotalCount('MemberConnection'),
  ),
);

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

const AcceptInvitationInput = builder.inputType('AcceptInvitationInput', {
  fields: (t) => ({
    token: t.string({ required: true }),
    name: t.string({ description: 'For a new account' }),
    password: t.string({ description: "A new account's password, or the existing account's to prove it is yours" }),
  }),
});

builder.mutationField('acceptInvitation', (t) =>
  t.field({
    type: Session,
    args: { input: t.arg({ type: AcceptInvitationInput, required: true }) },
    errors: {
      types: [ValidationError, InvalidTokenError, InvalidCredentialsError, WeakPasswordError, EmailTakenError],
    },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).acceptInvitation(ctx.request, {
          token: input.token,
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.password != null ? { password: input.password } : {}),
        }),
      ),
  }),
);
