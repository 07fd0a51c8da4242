// Members of an organization: invitations (a signed, single-use token shown once to the
// inviter, who passes it on) and the member list.
import {
  type AccessError,
  authorize,
  catalogue,
  createEvent,
  ForbiddenError,
  fail,
  newId,
  ok,
  type RequestContext,
  type Result,
  ROLES,
  ValidationError,
  validateInput,
} from '@mauntic/kernel';
import { appendEvents, type PageWindow, toConnection } from '@mauntic/platform';
import { and, count, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { invitations, memberships, organizations, outbox, users } from '../db/schema.ts';
import { EmailTakenError, InvalidCredentialsError, InvalidTokenError, WeakPasswordError } from '../domain/errors.ts';
import { passwordWeaknesses } from '../domain/password.ts';
import { canGrantRole } from '../domain/roles.ts';
import { authorizeUser } from './authorize.ts';
import type { IdentityDeps } from './deps.ts';
import { hashPassword, randomSecret, sha256, verifyPassword } from './secrets.ts';
import { issueSession, type Session } from './sessions.ts';
import { isUniqueViolation } from './sign-up.ts';

export type InvitationRow = typeof invitations.$inferSelect;

export const inviteMemberInput = z.object({ email: z.email().max(254), role: z.enum(ROLES) });

export async function inviteMember(
  deps: IdentityDeps,
  ctx: RequestContext,
  raw: z.input<typeof inviteMemberInput>,
): Promise<Result<{ invitation: InvitationRow; token: string }, AccessError | ValidationError>> {
  const access = authorizeUser(ctx, 'identity:admin', inviteMemberInput, raw);
  if (!access.ok) return access;
  const { organizationId, userId, role, input } = access.value;
  if (!canGrantRole(role, input.role)) return fail(new ForbiddenError(`a role that may grant ${input.role}`));
  const token = `inv_${randomSecret()}`;
  const [invitation] = await deps.handle.db
    .insert(invitations)
    .values({
      id: newId(),
      organizationId,
      email: input.email,
      role: input.role,
      tokenHash: sha256(token),
      invitedBy: userId,
      expiresAt: new Date(Date.now() + deps.invitationTtlSeconds * 1000),
    })
    .returning();
  return ok({ invitation: invitation!, token });
}

export const acceptInvitationInput = z.object({
  token: z.string().min(1).max(200),
  /** Needed when no account exists yet for the invited address. */
  name: z.string().trim().min(1).max(200).optional(),
  /** A new account's password, or the existing account's password to prove it is theirs. */
  password: z.string().max(1024).optional(),
});

/**
 * Joins the organization of an invitation. The invited address may already have an account:
 * then the caller proves it is theirs with its password (or by being signed in as it).
 */
export async function acceptInvitation(
  deps: IdentityDeps,
  ctx: RequestContext,
  raw: z.input<typeof acceptInvitationInput>,
): Promise<
  Result<Session, ValidationError | InvalidTokenError | InvalidCredentialsError | WeakPasswordError | EmailTakenError>
> {
  const input = validateInput(acceptInvitationInput, raw);
  if (!input.ok) return input;
  const { token, name, password } = input.value;
  const [invitation] = await deps.handle.db
    .select()
    .from(invitations)
    .where(eq(invitations.tokenHash, sha256(token)));
  if (!invitation) return fail(new InvalidTokenError('invalid'));
  if (invitation.acceptedAt) return fail(new InvalidTokenError('revoked'));
  if (invitation.expiresAt.getTime() <= Date.now()) return fail(new InvalidTokenError('expired'));

  const [existing] = await deps.handle.db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.email})`, invitation.email.toLowerCase()));
  let userId: string;
  let newUser: { passwordHash: string; name: string } | undefined;
  if (existing) {
    const signedInAsThem = ctx.actor.type === 'user' && ctx.actor.id === existing.id;
    if (!signedInAsThem && !(password && (await verifyPassword(existing.passwordHash, password))))
      return fail(new InvalidCredentialsError());
    userId = existing.id;
  } else {
    if (!name || !password)
      return fail(
        new ValidationError([
          { path: ['input', name ? 'password' : 'name'], message: 'required to create the invited account' },
        ]),
      );
    const weaknesses = passwordWeaknesses(password, { email: invitation.email, name });
    if (weaknesses.length) return fail(new WeakPasswordError(weaknesses));
    userId = newId();
    newUser = { passwordHash: await hashPassword(password), name };
  }

  try {
    const session = await deps.handle.db.transaction(async (tx) => {
      // Single use: only the first acceptance flips accepted_at.
      const claimed = await tx
        .update(invitations)
        .set({ acceptedAt: sql`now()` })
        .where(and(eq(invitations.id, invitation.id), isNull(invitations.acceptedAt)))
        .returning({ id: invitations.id });
      if (!claimed.length) return null;
      const base = { organizationId: invitation.organizationId, correlationId: ctx.correlationId };
      const events = [];
      if (newUser) {
        await tx.insert(users).values({ id: userId, email: invitation.email, ...newUser });
        events.push(
          createEvent(catalogue.identity.userCreated, {
            ...base,
            subjectId: userId,
            data: { email: invitation.email, name: newUser.name },
          }),
        );
      }
      await tx
        .insert(memberships)
        .values({ organizationId: invitation.organizationId, userId, role: invitation.role })
        .onConflictDoUpdate({
          target: [memberships.organizationId, memberships.userId],
          set: { role: invitation.role },
        });
      events.push(
        createEvent(catalogue.identity.memberAdded, {
          ...base,
          subjectId: userId,
          data: { userId, role: invitation.role, invitedBy: invitation.invitedBy },
        }),
      );
      await appendEvents(tx, outbox, events);
      return issueSession(tx, deps, { userId, organizationId: invitation.organizationId, role: invitation.role });
    });
    return session ? ok(session) : fail(new InvalidTokenError('revoked'));
  } catch (error) {
    if (isUniqueViolation(error, 'users_email_key')) return fail(new EmailTakenError());
    throw error;
  }
}

export async function listMembers(deps: IdentityDeps, ctx: RequestContext, window: PageWindow) {
  const access = authorize(ctx, 'identity:read');
  if (!access.ok) return access;
  const org = eq(memberships.organizationId, access.value.organizationId);
  const rows = await deps.handle.db
    .select({ userId: memberships.userId, role: memberships.role, joinedAt: memberships.createdAt })
    .from(memberships)
    .where(window.afterId ? and(org, lt(memberships.userId, window.afterId)) : org)
    .orderBy(desc(memberships.userId))
    .limit(window.fetch);
  const [total] = await deps.handle.db.select({ n: count() }).from(memberships).where(org);
  return ok(toConnection(rows, window, total?.n ?? 0, (r) => r.userId));
}

/** Users visible to the caller: members of the caller's organization only; null for anyone else. */
export async function findMemberUser(deps: IdentityDeps, ctx: RequestContext, userId: string) {
  const access = authorize(ctx, 'member');
  if (!access.ok) return access;
  const [row] = await deps.handle.db
    .select({ id: users.id, email: users.email, name: users.name, createdAt: users.createdAt })
    .from(users)
    .innerJoin(memberships, eq(memberships.userId, users.id))
    .where(and(eq(users.id, userId), eq(memberships.organizationId, access.value.organizationId)));
  return ok(row ?? null);
}

/** Only one's own organization is visible; null for any other. */
export async function findOrganization(deps: IdentityDeps, ctx: RequestContext, organizationId: string) {
  const access = authorize(ctx, 'member');
  if (!access.ok) return access;
  if (access.value.organizationId !== organizationId) return ok(null);
  const [row] = await deps.handle.db.select().from(organizations).where(eq(organizations.id, organizationId));
  return ok(row ?? null);
}

/** Unscoped lookups for the parties of a session the caller just proved (sign-up, log-in). */
export async function userById(deps: IdentityDeps, userId: string) {
  const [row] = await deps.handle.db
    .select({ id: users.id, email: users.email, name: users.name, createdAt: users.createdAt })
    .from(users)
    .where(eq(users.id, userId));
  return row ?? null;
}

export async function organizationById(deps: IdentityDeps, organizationId: string) {
  const [row] = await deps.handle.db.select().from(organizations).where(eq(organizations.id, organizationId));
  return row ?? null;
}
