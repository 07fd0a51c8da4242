// One drizzle handle over postgres.js (cluster) or PGlite (embedded, persisted in a folder).
// Both speak real PostgreSQL; code above this file does not know which it has.
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { type SQL, sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import postgres from 'postgres';
import { type FolderLock, lockFolder } from './folder-lock.ts';

export type Database = PgDatabase<PgQueryResultHKT, any>;
export type Transaction = PgTransaction<PgQueryResultHKT, any, any>;
/** Anything that runs queries: the database or a transaction inside it. */
export type Executor = Database | Transaction;

export interface DatabaseHandle {
  readonly kind: 'postgres' | 'pglite';
  readonly db: Database;
  /** Runs raw SQL and returns its rows, whichever driver is underneath. */
  rows<T = Record<string, unknown>>(query: SQL, executor?: Executor): Promise<T[]>;
  /** Runs a script of several statements without parameters (DDL, fixtures, benchmarks). */
  script(text: string): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
  /** The underlying client, for migrations and benchmarks (postgres.js Sql or PGlite). */
  readonly client: postgres.Sql | PGlite;
  /** Set for postgres: the URL it was opened with. */
  readonly url?: string;
}

export type DatabaseOptions =
  | { url: string; maxConnections?: number; applicationName?: string }
  | { dataDir: string }
  | { memory: true };

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if ('url' in options) {
    const client = postgres(options.url, {
      max: options.maxConnections ?? 10,
      onnotice: () => {},
      connection: { application_name: options.applicationName ?? 'mauntic' },
    });
    const db = drizzlePostgres(client) as unknown as Database;
    const handle: DatabaseHandle = {
      kind: 'postgres',
      db,
      client,
      url: options.url,
      rows: async (query, executor = db) => (await executor.execute(query)) as unknown as never[],
      script: async (text) => {
        await client.unsafe(text);
      },
      ping: async () => {
        await client`select 1`;
      },
      close: () => client.end({ timeout: 5 }),
    };
    await handle.ping();
    return handle;
  }

  let lock: FolderLock | undefined;
  let client: PGlite;
  if ('dataDir' in options) {
    mkdirSync(options.dataDir, { recursive: true });
    // Two PGlite instances on one folder silently diverge: hold an exclusive lock.
    lock = lockFolder(options.dataDir);
    client = new PGlite(options.dataDir);
  } else {
    client = new PGlite();
  }
  await client.waitReady;
  const db = drizzlePglite(client) as unknown as Database;
  return {
    kind: 'pglite',
    db,
    client,
    rows: async (query, executor = db) => ((await executor.execute(query)) as unknown as { rows: never[] }).rows,
    script: async (text) => {
      await client.exec(text);
    },
    ping: async () => {
      await client.query('select 1');
    },
    close: async () => {
      await client.close();
      lock?.release();
    },
  };
}

export { sql };

/** Rows of a raw `execute()` inside a transaction, whichever driver ran it. */
export function rowsOf<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: T[] }).rows) as T[];
}
