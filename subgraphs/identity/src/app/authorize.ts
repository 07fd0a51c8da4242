// Checks on the caller that use cases share. They return typed errors, never throw.
import {
  ForbiddenError,
  fail,
  hasScope,
  type OrganizationId,
  ok,
  type RequestContext,
  type Result,
  type Role,
  type Scope,
  UnauthenticatedError,
} from '@mauntic/kernel';

export interface Caller {
  organizationId: OrganizationId;
  /** The user acting, or for an API key the user who created it. */
  userId: string;
  role?: Role;
  scopes: RequestContext['scopes'];
  ctx: RequestContext;
}

export function requireCaller(
  ctx: RequestContext,
  scope?: Scope,
): Result<Caller, UnauthenticatedError | ForbiddenError> {
  const { actor, organizationId } = ctx;
  if (actor.type === 'anonymous' || !organizationId) return fail(new UnauthenticatedError());
  if (scope && !hasScope(ctx.scopes, scope)) return fail(new ForbiddenError(scope));
  const userId = actor.type === 'api_key' ? actor.createdBy : actor.id;
  return ok({ organizationId, userId, ...(ctx.role ? { role: ctx.role } : {}), scopes: ctx.scopes, ctx });
}

/** A signed-in user (not an API key): managing members and keys needs a person. */
export function requireUser(
  ctx: RequestContext,
  scope?: Scope,
): Result<Caller & { role: Role }, UnauthenticatedError | ForbiddenError> {
  const caller = requireCaller(ctx, scope);
  if (!caller.ok) return caller;
  if (ctx.actor.type !== 'user' || !caller.value.role) return fail(new ForbiddenError('a signed-in user'));
  return ok({ ...caller.value, role: caller.value.role });
}
