import { unwrap, ValidationError } from '@mauntic/kernel';
import type { Session as SessionShape } from '../../app/sessions.ts';
import { EmailTakenError, InvalidCredentialsError, InvalidTokenError, WeakPasswordError } from '../../domain/errors.ts';
import { builder, services } from '../builder.ts';
import { Organization } from './organization.ts';
import { RoleEnum } from './role.ts';
import { User } from './user.ts';

export const Session = builder.objectRef<SessionShape>('Session').implement({
  description:
    'A signed-in session: send accessToken as `Authorization: Bearer <token>`; trade refreshToken for a new session before it expires.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken'),
    accessTokenExpiresAt: t.expose('accessTokenExpiresAt', { type: 'DateTime' }),
    refreshToken: t.exposeString('refreshToken'),
    refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', { type: 'DateTime' }),
    role: t.expose('role', { type: RoleEnum }),
    user: t.field({
      type: User,
      resolve: async (s, _, ctx) => (await services(ctx).userById(s.userId))!,
    }),
    organization: t.field({
      type: Organization,
      resolve: async (s, _, ctx) => (await services(ctx).organizationById(s.organizationId))!,
    }),
  }),
});

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    email: t.field({ type: 'EmailAddress', required: true }),
    password: t.string({ required: true }),
    name: t.string({ required: true }),
    organizationName: t.string({ required: true }),
  }),
});

const LogInInput = builder.inputType('LogInInput', {
  fields: (t) => ({
    email: t.field({ type: 'EmailAddress', required: true }),
    password: t.string({ required: true }),
    organizationId: t.id({ description: 'Act for this organization; the oldest membership when omitted' }),
  }),
});

const RefreshTokenInput = (name: string) =>
  builder.inputType(name, { fields: (t) => ({ refreshToken: t.string({ required: true }) }) });

builder.mutationField('signUp', (t) =>
  t.field({
    description: 'Creates an account and its organization (you own it) and signs you in.',
    type: Session,
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    errors: { types: [ValidationError, WeakPasswordError, EmailTakenError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).signUp(ctx.request, input)),
  }),
);

builder.mutationField('logIn', (t) =>
  t.field({
    type: Session,
    args: { input: t.arg({ type: LogInInput, required: true }) },
    errors: { types: [ValidationError, InvalidCredentialsError] },
    resolve: async (_, { input }, ctx) =>
      unwrap(
        await services(ctx).logIn(ctx.request, {
          email: input.email,
          password: input.password,
          ...(input.organizationId ? { organizationId: String(input.organizationId) } : {}),
        }),
      ),
  }),
);

builder.mutationField('refreshSession', (t) =>
  t.field({
    description: 'Trades a refresh token for a new session. Each refresh token works once.',
    type: Session,
    args: { input: t.arg({ type: RefreshTokenInput('RefreshSessionInput'), required: true }) },
    errors: { types: [ValidationError, InvalidTokenError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).refreshSession(ctx.request, input)),
  }),
);

const LogOutResult = builder.objectRef<{ loggedOut: true }>('LogOutResult').implement({
  fields: (t) => ({ loggedOut: t.exposeBoolean('loggedOut') }),
});

builder.mutationField('logOut', (t) =>
  t.field({
    description: 'Ends the session the refresh token belongs to (its access token lapses within minutes).',
    type: LogOutResult,
    args: { input: t.arg({ type: RefreshTokenInput('LogOutInput'), required: true }) },
    errors: { types: [ValidationError] },
    resolve: async (_, { input }, ctx) => unwrap(await services(ctx).logOut(ctx.request, input)),
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
