// Who is calling (`me`), with their user and organization read in one query rather than one
// per field.
import { type AccessError, authorize, type Caller, ok, type RequestContext, type Result } from '@mauntic/kernel';
import { and, eq, sql } from 'drizzle-orm';
import { memberships, organizations, users } from '../db/schema.ts';
import type { IdentityDeps } from './deps.ts';

export interface Viewer extends Caller {
  /** The signed-in user, or the API key's creator; null once they are no longer a member. */
  user: { id: string; email: string; name: string; createdAt: Date } | null;
  organization: typeof organizations.$inferSelect | null;
}

// Built once per database: the query's SQL is the same on every call.
const prepared = new WeakMap<IdentityDeps['handle']['db'], ReturnType<typeof prepareViewerQuery>>();

function prepareViewerQuery(db: IdentityDeps['handle']['db']) {
  return db
    .select({
      organization: organizations,
      user: { id: users.id, email: users.email, name: users.name, createdAt: users.createdAt },
    })
    .from(organizations)
    .leftJoin(
      memberships,
      and(eq(memberships.organizationId, organizations.id), eq(memberships.userId, sql.placeholder('userId'))),
    )
    .leftJoin(users, eq(users.id, memberships.userId))
    .where(eq(organizations.id, sql.placeholder('organizationId')))
    .prepare('identity_viewer');
}

/** Any caller acting for an organization, a signed-in user or an API key. */
export async function viewer(deps: IdentityDeps, ctx: RequestContext): Promise<Result<Viewer, AccessError>> {
  const access = authorize(ctx, 'member');
  if (!access.ok) return access;
  const { organizationId, userId } = access.value;
  let query = prepared.get(deps.handle.db);
  if (!query) {
    query = prepareViewerQuery(deps.handle.db);
    prepared.set(deps.handle.db, query);
  }
  const [row] = await query.execute({ organizationId, userId: userId ?? null });
  return ok({ ...access.value, user: row?.user ?? null, organization: row?.organization ?? null });
}
