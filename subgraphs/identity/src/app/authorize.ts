// Identity's one rule beyond the kernel's authorize: managing members and keys needs a person
// (a signed-in user), not an API key.
import {
  type AccessError,
  authorize,
  type Caller,
  ForbiddenError,
  fail,
  ok,
  type Permission,
  type RequestContext,
  type Result,
  type Role,
  type ValidationError,
  validateInput,
} from '@mauntic/kernel';
import type { z } from 'zod';

export type UserCaller = Caller & { userId: string; role: Role };

/** The signed-in user holding `scope`, and its input parsed by `schema`. */
export function authorizeUser<T>(
  ctx: RequestContext,
  scope: Permission,
  schema: z.ZodType<T>,
  raw: unknown,
): Result<UserCaller & { input: T }, AccessError | ValidationError> {
  const access = authorize(ctx, scope);
  if (!access.ok) return access;
  // Access before input, as authorize orders them: a caller that may not act learns nothing of its input.
  if (ctx.actor.type !== 'user' || !access.value.role) return fail(new ForbiddenError('a signed-in user'));
  const input = validateInput(schema, raw);
  if (!input.ok) return input;
  return ok({ ...access.value, userId: ctx.actor.id, role: access.value.role, input: input.value });
}
