/**
 * Picks the database adapter from configuration: PostgreSQL when a URL is given, otherwise
 * the embedded PGlite in `dataDir`.
 */
import { SyncError } from '../../core/errors';
import type { Database, QueryObserver } from './database';
import { DbErrorCode } from './db-errors';
import { PgliteDatabase } from './pglite-database';
import { PostgresDatabase, type PoolOptions } from './postgres-database';

export const DEFAULT_DATA_DIR = './.roo-sync/data';

export interface DatabaseConfig extends QueryObserver {
  /** postgres:// or postgresql:// URL; when absent the embedded PGlite is used. */
  databaseUrl?: string;
  /** PGlite data directory (used only without `databaseUrl`); `memory://` keeps it in memory. */
  dataDir?: string;
  /** PGlite: refuse a data directory without a database (DB_DATA_DIR_NOT_FOUND) instead of creating one. */
  mustExist?: boolean;
  /** PostgreSQL pool settings (ignored by PGlite). */
  pool?: PoolOptions;
  /** PostgreSQL: errors of idle pooled connections. */
  onPoolError?: PostgresDatabaseOnPoolError;
}

type PostgresDatabaseOnPoolError = (err: SyncError) => void;

/** Opens the configured database and proves it answers (DB_UNAVAILABLE, DB_CONFIG_INVALID). */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  const observer: QueryObserver = {
    onQuery: config.onQuery,
    onSlowQuery: config.onSlowQuery,
    slowQueryMs: config.slowQueryMs,
  };
  if (config.databaseUrl) {
    assertPostgresUrl(config.databaseUrl);
    return PostgresDatabase.open({
      url: config.databaseUrl,
      pool: config.pool,
      onPoolError: config.onPoolError,
      ...observer,
    });
  }
  return PgliteDatabase.open({ dataDir: config.dataDir ?? DEFAULT_DATA_DIR, mustExist: config.mustExist, ...observer });
}

/** Where a URL points, without its credentials: safe to log. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

function assertPostgresUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SyncError(DbErrorCode.CONFIG_INVALID, 'DATABASE_URL is not a valid URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new SyncError(DbErrorCode.CONFIG_INVALID, `DATABASE_URL must start with postgres:// (got ${parsed.protocol}//)`);
  }
}
