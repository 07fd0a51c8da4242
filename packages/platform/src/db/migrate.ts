// Applies a context's generated migrations (drizzle-kit) into its own schema. Safe to run from
// several replicas at once: a Postgres advisory lock lets one migrate while the others wait.

import type { PgliteDatabase } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import type { DatabaseHandle } from './database.ts';

export interface MigrationSet {
  /** The Postgres schema the context owns, e.g. 'identity'. */
  schema: string;
  /** Folder of drizzle-kit's generated SQL and meta/_journal.json. */
  folder: string;
}

export async function runMigrations(handle: DatabaseHandle, set: MigrationSet): Promise<void> {
  // Bookkeeping lives outside the context's schema: the first migration creates that schema.
  const config = { migrationsFolder: set.folder, migrationsSchema: 'mauntic_migrations', migrationsTable: set.schema };
  if (handle.kind === 'pglite') {
    await migratePglite(handle.db as unknown as PgliteDatabase, config);
    return;
  }
  // A dedicated single connection, so the session-level advisory lock covers the whole run.
  if (!handle.url) throw new Error('a postgres handle without its url');
  const single = postgres(handle.url, { max: 1, onnotice: () => {} });
  try {
    await single`select pg_advisory_lock(hashtext(${`mauntic.migrate.${set.schema}`}))`;
    await migratePostgres(drizzlePostgres(single), config);
  } finally {
    await single.end({ timeout: 5 });
  }
}
