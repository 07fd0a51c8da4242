// One page of an organization's rows, newest first, by UUID v7 id, optionally filtered: the list
// every context needs.
import { and, count, desc, eq, lt, type SQL } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import { type Connection, type PageWindow, toConnection } from '../graphql/connection.ts';
import type { Executor } from './database.ts';

type OrganizationTable = PgTable & { id: PgColumn; organizationId: PgColumn };

export async function pageOfOrganization<T extends OrganizationTable>(
  db: Executor,
  table: T,
  organizationId: string,
  window: PageWindow,
  /** Further conditions (filters); the organization is always one of them. */
  filter?: SQL,
): Promise<Connection<T['$inferSelect']>> {
  const scope = filter
    ? and(eq(table.organizationId, organizationId), filter)!
    : eq(table.organizationId, organizationId);
  const rows = (await db
    .select()
    .from(table as PgTable)
    .where(window.afterId ? and(scope, lt(table.id, window.afterId)) : scope)
    .orderBy(desc(table.id))
    .limit(window.fetch)) as T['$inferSelect'][];
  const [total] = await db
    .select({ n: count() })
    .from(table as PgTable)
    .where(scope);
  return toConnection(rows, window, total?.n ?? 0, (r) => (r as { id: string }).id);
}
