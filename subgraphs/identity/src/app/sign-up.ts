import {
  catalogue,
  createEvent,
  fail,
  newId,
  ok,
  type RequestContext,
  type Result,
  type ValidationError,
  validateInput,
} from '@mauntic/kernel';
import { appendEvents } from '@mauntic/platform';
import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import { memberships, organizations, outbox, users } from '../db/schema.ts';
import { EmailTakenError, WeakPasswordError } from '../domain/errors.ts';
import { passwordWeaknesses } from '../domain/password.ts';
import { slugify } from '../domain/slug.ts';
import type { IdentityDeps } from './deps.ts';
import { hashPassword } from './secrets.ts';
import { issueSession, type Session } from './sessions.ts';

export const signUpInput = z.object({
  email: z.email().max(254),
  password: z.string(),
  name: z.string().trim().min(1).max(200),
  organizationName: z.string().trim().min(1).max(200),
});

const UNIQUE_VIOLATION = '23505';
const isUniqueViolation = (error: unknown, constraint: string) => {
  const e = error as { code?: string; constraint_name?: string; constraint?: string; cause?: unknown };
  const inner = (e.cause ?? e) as typeof e;
  return inner.code === UNIQUE_VIOLATION && (inner.constraint_name ?? inner.constraint) === constraint;
};

/** Creates a user, their organization (they own it) and a session. */
export async function signUp(
  deps: IdentityDeps,
  ctx: RequestContext,
  raw: z.input<typeof signUpInput>,
): Promise<Result<Session, ValidationError | WeakPasswordError | EmailTakenError>> {
  const input = validateInput(signUpInput, raw);
  if (!input.ok) return input;
  const { email, password, name, organizationName } = input.value;
  const weaknesses = passwordWeaknesses(password, { email, name });
  if (weaknesses.length) return fail(new WeakPasswordError(weaknesses));

  const existing = await deps.handle.db
    .select({ id: users.id })
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.toLowerCase()));
  if (existing.length) return fail(new EmailTakenError());

  const passwordHash = await hashPassword(password);
  const userId = newId();
  const organizationId = newId();
  const slug = `${slugify(organizationName)}-${organizationId.slice(-6)}`;
  try {
    const session = await deps.handle.db.transaction(async (tx) => {
      await tx.insert(users).values({ id: userId, email, name, passwordHash });
      await tx.insert(organizations).values({ id: organizationId, name: organizationName, slug });
      await tx.insert(memberships).values({ organizationId, userId, role: 'owner' });
      const base = { organizationId, correlationId: ctx.correlationId };
      await appendEvents(tx, outbox, [
        createEvent(catalogue.identity.userCreated, { ...base, subjectId: userId, data: { email, name } }),
        createEvent(catalogue.identity.organizationCreated, {
          ...base,
          subjectId: organizationId,
          data: { name: organizationName, slug, createdBy: userId },
        }),
        createEvent(catalogue.identity.memberAdded, { ...base, subjectId: userId, data: { userId, role: 'owner' } }),
      ]);
      return issueSession(tx, deps, { userId, organizationId, role: 'owner' });
    });
    return ok(session);
  } catch (error) {
    // Two sign-ups racing for one address: the unique index decides.
    if (isUniqueViolation(error, 'users_email_key')) return fail(new EmailTakenError());
    throw error;
  }
}

export { isUniqueViolation };
