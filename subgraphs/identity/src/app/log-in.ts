import { fail, ok, type RequestContext, type Result, type ValidationError, validateInput } from '@mauntic/kernel';
import { and, asc, eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { memberships, users } from '../db/schema.ts';
import { InvalidCredentialsError } from '../domain/errors.ts';
import type { IdentityDeps } from './deps.ts';
import { verifyPassword } from './secrets.ts';
import { issueSession, type Session } from './sessions.ts';

export const logInInput = z.object({
  email: z.email().max(254),
  password: z.string().max(1024),
  /** Which of the user's organizations to act for; the oldest membership when omitted. */
  organizationId: z.uuid().optional(),
});

export async function logIn(
  deps: IdentityDeps,
  _ctx: RequestContext,
  raw: z.input<typeof logInInput>,
): Promise<Result<Session, ValidationError | InvalidCredentialsError>> {
  const input = validateInput(logInInput, raw);
  if (!input.ok) return input;
  const { email, password, organizationId } = input.value;
  const [user] = await deps.handle.db
    .select({ id: users.id, passwordHash: users.passwordHash })
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.toLowerCase()));
  if (!(await verifyPassword(user?.passwordHash, password)) || !user) return fail(new InvalidCredentialsError());

  const [membership] = await deps.handle.db
    .select({ organizationId: memberships.organizationId, role: memberships.role })
    .from(memberships)
    .where(
      organizationId
        ? and(eq(memberships.userId, user.id), eq(memberships.organizationId, organizationId))
        : eq(memberships.userId, user.id),
    )
    .orderBy(asc(memberships.createdAt))
    .limit(1);
  // Not a member of the asked organization: the same answer as a wrong password.
  if (!membership) return fail(new InvalidCredentialsError());

  const session = await issueSession(deps.handle.db, deps, {
    userId: user.id,
    organizationId: membership.organizationId,
    role: membership.role,
  });
  return ok(session);
}
