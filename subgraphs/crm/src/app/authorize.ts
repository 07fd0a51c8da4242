import {
  ForbiddenError,
  fail,
  hasScope,
  type OrganizationId,
  ok,
  type RequestContext,
  type Result,
  type Scope,
  UnauthenticatedError,
} from '@mauntic/kernel';

/** The caller's organization, when it may use `scope`; every CRM query is scoped by it. */
export function requireScope(
  ctx: RequestContext,
  scope: Scope,
): Result<OrganizationId, UnauthenticatedError | ForbiddenError> {
  if (ctx.actor.type === 'anonymous' || !ctx.organizationId) return fail(new UnauthenticatedError());
  if (!hasScope(ctx.scopes, scope)) return fail(new ForbiddenError(scope));
  return ok(ctx.organizationId);
}
