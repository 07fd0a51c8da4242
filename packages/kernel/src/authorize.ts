// The one way a use case checks its caller: the opening every use case shares. It returns the
// caller's organization (every query is scoped by it) and, given a schema, the validated input;
// failures are typed values, never thrown.
import type { z } from 'zod';
import { hasScope, type RequestContext, type Role, type Scope } from './context.ts';
import { ForbiddenError, fail, ok, type Result, UnauthenticatedError, type ValidationError } from './errors.ts';
import type { OrganizationId } from './ids.ts';
import { validateInput } from './validation.ts';

export interface Caller {
  organizationId: OrganizationId;
  /** The person acting: the signed-in user, or the user who created the API key; absent for the system. */
  userId?: string;
  role?: Role;
  ctx: RequestContext;
}

export type AccessError = UnauthenticatedError | ForbiddenError;

/** A scope to hold, or `member`: any caller acting for an organization, whatever its scopes. */
export type Permission = Scope | 'member';

/** The caller, when it acts for an organization and holds `scope`. */
export function authorize(ctx: RequestContext, scope: Permission): Result<Caller, AccessError>;
/** The caller and its input parsed by `schema`, when it holds `scope` and the input is valid. */
export function authorize<S extends z.ZodType>(
  ctx: RequestContext,
  scope: Permission,
  schema: S,
  raw: unknown,
  root?: string[],
): Result<Caller & { input: z.output<S> }, AccessError | ValidationError>;
export function authorize(
  ctx: RequestContext,
  scope: Permission,
  schema?: z.ZodType,
  raw?: unknown,
  root?: string[],
): Result<Caller & { input?: unknown }, AccessError | ValidationError> {
  const { actor, organizationId } = ctx;
  if (actor.type === 'anonymous' || !organizationId) return fail(new UnauthenticatedError());
  if (scope !== 'member' && !hasScope(ctx.scopes, scope)) return fail(new ForbiddenError(scope));
  const caller: Caller = { organizationId, ctx };
  if (actor.type === 'user') caller.userId = actor.id;
  else if (actor.type === 'api_key') caller.userId = actor.createdBy;
  if (ctx.role) caller.role = ctx.role;
  if (!schema) return ok(caller);
  const input = validateInput(schema, raw, root);
  return input.ok ? ok({ ...caller, input: input.value }) : input;
}
