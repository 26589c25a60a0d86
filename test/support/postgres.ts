/**
 * Real PostgreSQL for tests: a fresh database per suite on the server at TEST_DATABASE_URL
 * (default postgres://postgres@127.0.0.1:5432/test), dropped afterwards. When PostgreSQL is
 * unreachable, `createTestDatabase` rejects, so the suite fails instead of skipping.
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { isSyncError } from '../../core/errors';
import type { Database, Queryable } from '../../server/db/database';
import { migrate } from '../../server/db/migrator';
import { openDatabase } from '../../server/db/open-database';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** URL of the new, empty database. */
  url: string;
  /** Drops the database (ending its open connections). Idempotent. */
  drop(): Promise<void>;
}

/** Creates an empty database named `roo_test_<random>` and returns its URL. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `roo_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  await withAdminClient((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    drop() {
      dropped ??= withAdminClient(async (client) => {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
      return dropped;
    },
  };
}

async function withAdminClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `PostgreSQL is not reachable at ${describe(TEST_DATABASE_URL)} (set TEST_DATABASE_URL): ${(err as Error).message}`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function describe(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || 5432}${u.pathname}`;
}

/** Empties every table except schema_migrations (between tests of one suite). */
export async function resetDatabase(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT quote_ident(tablename) AS name FROM pg_tables
      WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'`,
  );
  if (rows.length === 0) return;
  // A suite's relay keeps running between tests, and its projector may be in a transaction on
  // these tables: PostgreSQL then ends one side with a deadlock (40P01), safe to run again.
  for (let attempt = 1; ; attempt++) {
    try {
      await db.query(`TRUNCATE ${rows.map((r) => r.name).join(', ')} RESTART IDENTITY CASCADE`);
      return;
    } catch (error) {
      if (attempt >= 5 || !isSyncError(error) || error.details?.['sqlState'] !== '40P01') throw error;
    }
  }
}

/** Drops everything in the current schema, schema_migrations included (migration tests). */
export async function wipeSchema(db: Queryable): Promise<void> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT quote_ident(tablename) AS name FROM pg_tables WHERE schemaname = current_schema()`,
  );
  if (rows.length === 0) return;
  await db.query(`DROP TABLE ${rows.map((r) => r.name).join(', ')} CASCADE`);
}

/**
 * Mocha hooks for a suite on real PostgreSQL: a fresh database opened before the suite (with a
 * pool of `poolMax` connections, migrated when `migrated`), closed and dropped after it. Returns
 * the getter the suite reads it through, and the database's URL (for extra connections).
 */
export function usePostgresDatabase(options: { poolMax?: number; migrated?: boolean } = {}): (() => Database) & { url(): string } {
  let testDb: TestDatabase | undefined;
  let db: Database | undefined;
  before(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ databaseUrl: testDb.url, ...(options.poolMax === undefined ? {} : { pool: { max: options.poolMax } }) });
    if (options.migrated) await migrate(db);
  });
  after(async () => {
    await db?.close();
    await testDb?.drop();
  });
  return Object.assign(() => db!, { url: () => testDb!.url });
}
