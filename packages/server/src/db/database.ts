// Opens the platform database: embedded PGlite in the data folder by default, a PostgreSQL server when a URL
// is given, with no other difference for callers. Migrations are applied on open.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/node-postgres';
import { migrate as migratePostgres } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from './schema.ts';

export type Database = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DatabaseHandle {
  db: Database;
  /** `pglite` (embedded, in `path`) or `postgres` (a server). */
  kind: 'pglite' | 'postgres';
  close(): Promise<void>;
}

const migrationsFolder = fileURLToPath(new URL('./migrations', import.meta.url));

/** Embedded PGlite stored in `directory` (created when missing); `memory://` keeps it in memory. */
export async function openPglite(directory: string): Promise<DatabaseHandle> {
  if (!directory.startsWith('memory://')) mkdirSync(directory, { recursive: true });
  const client = await PGlite.create(directory);
  const db = drizzlePglite(client, { schema });
  await migratePglite(db, { migrationsFolder });
  return { db: db as unknown as Database, kind: 'pglite', close: () => client.close() };
}

/**
 * A PostgreSQL server at `url` (`postgres://user:pass@host:port/db`). A pooled connection the server closes
 * while idle (a restart, an administrator) is reported to `onIdleError` and replaced on next use; unhandled,
 * node-postgres would throw it out of the process.
 */
export async function openPostgres(
  url: string,
  onIdleError: (error: Error) => void = () => {},
): Promise<DatabaseHandle> {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', onIdleError);
  try {
    await pool.query('select 1');
  } catch (error) {
    await pool.end();
    throw new Error(`cannot connect to DATABASE_URL (${maskUrl(url)}): ${(error as Error).message}`);
  }
  const db = drizzlePostgres(pool, { schema });
  await migratePostgres(db, { migrationsFolder });
  return { db: db as unknown as Database, kind: 'postgres', close: () => pool.end() };
}

export function openDatabase(options: {
  databaseUrl: string | null;
  pgliteDirectory: string;
  onIdleError?: (error: Error) => void;
}) {
  return options.databaseUrl
    ? openPostgres(options.databaseUrl, options.onIdleError)
    : openPglite(options.pgliteDirectory);
}

/** The URL with its password replaced, for logs and errors. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return '<unparsable url>';
  }
}
