/**
 * Schema migrations: numbered SQL files `NNNN_name.up.sql` / `NNNN_name.down.sql`
 * (server/db/migrations, embedded at build time), recorded in `schema_migrations` with the
 * sha256 of the up file and how long it took.
 *
 * `migrate` and `rollback` hold a PostgreSQL advisory lock, so two servers starting at once
 * never migrate together: the second waits, then finds nothing left to do. Each migration runs
 * in its own transaction together with its bookkeeping row.
 */
import { SyncError } from '../../core/errors';
import { sha256Hex } from '../../core/model/hash';
import type { Database, Queryable, Session } from './database';
import { EMBEDDED_MIGRATION_FILES } from './migrations/embedded.generated';

export const MigrationErrorCode = {
  /** An applied migration's up file changed since it ran (checksum drift). */
  CHECKSUM_MISMATCH: 'MIGRATION_CHECKSUM_MISMATCH',
  /** A version named by the caller, or recorded as applied, has no migration files. */
  UNKNOWN_VERSION: 'MIGRATION_UNKNOWN_VERSION',
  /** A migration's SQL failed; it was rolled back. `details.version` names it. */
  FAILED: 'MIGRATION_FAILED',
  /** The migration files are malformed (bad name, missing up or down, duplicate version). */
  FILES_INVALID: 'MIGRATION_FILES_INVALID',
} as const;

/** Advisory lock key held while migrating ("roo-sync migrations"). */
export const MIGRATION_LOCK_KEY = 0x5253_4d31;

export interface Migration {
  version: number;
  name: string;
  up: string;
  down: string;
  /** sha256 hex of the up file. */
  checksum: string;
}

export interface AppliedMigration {
  version: number;
  name: string;
  checksum: string;
  appliedAt: Date;
  executionMs: number;
}

export interface MigrationRun {
  version: number;
  name: string;
  durationMs: number;
}

export interface MigratorOptions {
  /** The migrations to use; default: the embedded files. */
  migrations?: readonly Migration[];
  /** Default MIGRATION_LOCK_KEY. */
  lockKey?: number;
}

export interface MigrateOptions extends MigratorOptions {
  /** Apply up to and including this version; default: the latest. */
  to?: number;
}

export type MigrationState = 'applied' | 'pending' | 'changed' | 'unknown';

export interface MigrationStatusEntry {
  version: number;
  name: string;
  /** applied; pending; changed (applied, but the file's checksum differs); unknown (applied, no file). */
  state: MigrationState;
  checksum: string;
  appliedChecksum?: string;
  appliedAt?: Date;
  executionMs?: number;
}

export interface MigrationStatus {
  /** Highest applied version (0: none). */
  current: number;
  /** Highest version among the files. */
  latest: number;
  entries: MigrationStatusEntry[];
}

const FILE_NAME = /^(\d+)_([a-z0-9_]+)\.(up|down)\.sql$/;

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version      integer     PRIMARY KEY,
  name         text        NOT NULL,
  checksum     text        NOT NULL,
  applied_at   timestamptz NOT NULL DEFAULT now(),
  execution_ms integer     NOT NULL
)`;

/** Parses migration files (name -> text) into ordered migrations; MIGRATION_FILES_INVALID when malformed. */
export function loadMigrations(files: Readonly<Record<string, string>> = EMBEDDED_MIGRATION_FILES): Migration[] {
  const byVersion = new Map<number, { name: string; up?: string; down?: string }>();
  for (const [file, text] of Object.entries(files)) {
    const match = FILE_NAME.exec(file);
    if (!match) throw filesInvalid(`migration file name ${file} is not NNNN_name.up.sql or NNNN_name.down.sql`);
    const version = Number(match[1]);
    const name = match[2] as string;
    const entry = byVersion.get(version) ?? { name };
    if (entry.name !== name) throw filesInvalid(`version ${version} has two names: ${entry.name} and ${name}`);
    const direction = match[3] as 'up' | 'down';
    if (entry[direction] !== undefined) throw filesInvalid(`version ${version} has two ${direction} files`);
    entry[direction] = text;
    byVersion.set(version, entry);
  }
  const migrations: Migration[] = [];
  for (const [version, entry] of byVersion) {
    if (version < 1) throw filesInvalid(`migration versions start at 1 (found ${version})`);
    if (entry.up === undefined || entry.down === undefined) {
      throw filesInvalid(`migration ${version}_${entry.name} needs both an up and a down file`);
    }
    migrations.push({ version, name: entry.name, up: entry.up, down: entry.down, checksum: sha256Hex(entry.up) });
  }
  return migrations.sort((a, b) => a.version - b.version);
}

/**
 * Applies pending migrations up to `to` (default: all), under the advisory lock. Refuses to
 * run when an applied migration drifted. Returns what it applied (empty when up to date).
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<{ applied: MigrationRun[]; current: number }> {
  const migrations = options.migrations ?? loadMigrations();
  const target = options.to ?? latestVersion(migrations);
  if (options.to !== undefined && options.to !== 0 && !migrations.some((m) => m.version === options.to)) {
    throw unknownVersion(options.to);
  }
  return db.withAdvisoryLock(options.lockKey ?? MIGRATION_LOCK_KEY, async (session) => {
    await session.exec(CREATE_TABLE);
    const applied = await readApplied(session);
    assertNoDrift(migrations, applied);
    const pending = migrations.filter((m) => m.version <= target && !applied.has(m.version));
    const runs: MigrationRun[] = [];
    for (const migration of pending) {
      const durationMs = await session.transaction((tx) => runStep(tx, migration, 'up'));
      runs.push({ version: migration.version, name: migration.name, durationMs });
    }
    return { applied: runs, current: Math.max(0, ...applied.keys(), ...runs.map((r) => r.version)) };
  });
}

/**
 * Runs the down files of every applied migration above `toVersion`, newest first, under the
 * advisory lock. `toVersion` 0 undoes everything.
 */
export async function rollback(
  db: Database,
  toVersion: number,
  options: MigratorOptions = {},
): Promise<{ rolledBack: MigrationRun[]; current: number }> {
  const migrations = options.migrations ?? loadMigrations();
  if (!Number.isInteger(toVersion) || toVersion < 0 || (toVersion !== 0 && !migrations.some((m) => m.version === toVersion))) {
    throw unknownVersion(toVersion);
  }
  return db.withAdvisoryLock(options.lockKey ?? MIGRATION_LOCK_KEY, async (session) => {
    await session.exec(CREATE_TABLE);
    const applied = await readApplied(session);
    assertNoDrift(migrations, applied);
    const undo = migrations.filter((m) => m.version > toVersion && applied.has(m.version)).reverse();
    const runs: MigrationRun[] = [];
    for (const migration of undo) {
      const durationMs = await session.transaction((tx) => runStep(tx, migration, 'down'));
      runs.push({ version: migration.version, name: migration.name, durationMs });
    }
    const remaining = [...applied.keys()].filter((v) => v <= toVersion);
    return { rolledBack: runs, current: Math.max(0, ...remaining) };
  });
}

/** Every known and every applied migration with its state. Read-only: creates nothing. */
export async function status(db: Queryable, options: MigratorOptions = {}): Promise<MigrationStatus> {
  const migrations = options.migrations ?? loadMigrations();
  const applied = await readApplied(db);
  const entries: MigrationStatusEntry[] = migrations.map((m) => {
    const row = applied.get(m.version);
    if (!row) return { version: m.version, name: m.name, state: 'pending', checksum: m.checksum };
    return {
      version: m.version,
      name: m.name,
      state: row.checksum === m.checksum ? 'applied' : 'changed',
      checksum: m.checksum,
      appliedChecksum: row.checksum,
      appliedAt: row.appliedAt,
      executionMs: row.executionMs,
    };
  });
  for (const row of applied.values()) {
    if (!migrations.some((m) => m.version === row.version)) {
      entries.push({
        version: row.version,
        name: row.name,
        state: 'unknown',
        checksum: row.checksum,
        appliedChecksum: row.checksum,
        appliedAt: row.appliedAt,
        executionMs: row.executionMs,
      });
    }
  }
  entries.sort((a, b) => a.version - b.version);
  return { current: Math.max(0, ...applied.keys()), latest: latestVersion(migrations), entries };
}

/**
 * Checks that every applied migration still matches its file: throws
 * MIGRATION_CHECKSUM_MISMATCH on drift, MIGRATION_UNKNOWN_VERSION for an applied version
 * without files. Pending migrations are not an error. Read-only.
 */
export async function validate(db: Queryable, options: MigratorOptions = {}): Promise<MigrationStatus> {
  const migrations = options.migrations ?? loadMigrations();
  assertNoDrift(migrations, await readApplied(db));
  return status(db, { ...options, migrations });
}

async function runStep(tx: Session, migration: Migration, direction: 'up' | 'down'): Promise<number> {
  const started = performance.now();
  try {
    // Migrations may legitimately run longer than the pool's statement_timeout.
    await tx.exec('SET LOCAL statement_timeout = 0');
    await tx.exec(direction === 'up' ? migration.up : migration.down);
    const durationMs = performance.now() - started;
    if (direction === 'up') {
      await tx.query('INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES ($1, $2, $3, $4)', [
        migration.version,
        migration.name,
        migration.checksum,
        Math.round(durationMs),
      ]);
    } else {
      await tx.query('DELETE FROM schema_migrations WHERE version = $1', [migration.version]);
    }
    return durationMs;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new SyncError(
      MigrationErrorCode.FAILED,
      `migration ${migration.version}_${migration.name} (${direction}) failed: ${reason}`,
      { version: migration.version, direction, cause: err instanceof SyncError ? err.code : undefined },
      { cause: err },
    );
  }
}

async function readApplied(db: Queryable): Promise<Map<number, AppliedMigration>> {
  const exists = await db.query<{ present: boolean }>(`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`);
  const applied = new Map<number, AppliedMigration>();
  if (!exists.rows[0]?.present) return applied;
  const { rows } = await db.query<{ version: number; name: string; checksum: string; applied_at: Date; execution_ms: number }>(
    'SELECT version, name, checksum, applied_at, execution_ms FROM schema_migrations ORDER BY version',
  );
  for (const row of rows) {
    applied.set(row.version, {
      version: row.version,
      name: row.name,
      checksum: row.checksum,
      appliedAt: row.applied_at,
      executionMs: row.execution_ms,
    });
  }
  return applied;
}

function assertNoDrift(migrations: readonly Migration[], applied: Map<number, AppliedMigration>): void {
  for (const row of applied.values()) {
    const file = migrations.find((m) => m.version === row.version);
    if (!file) {
      throw new SyncError(
        MigrationErrorCode.UNKNOWN_VERSION,
        `the database has migration ${row.version}_${row.name} applied, but no such migration file exists (a newer server migrated it?)`,
        { version: row.version },
      );
    }
    if (file.checksum !== row.checksum) {
      throw new SyncError(
        MigrationErrorCode.CHECKSUM_MISMATCH,
        `migration ${row.version}_${row.name} was changed after it was applied (checksum ${row.checksum.slice(0, 12)} in the database, ${file.checksum.slice(0, 12)} in the file)`,
        { version: row.version, applied: row.checksum, file: file.checksum },
      );
    }
  }
}

function latestVersion(migrations: readonly Migration[]): number {
  return Math.max(0, ...migrations.map((m) => m.version));
}

function unknownVersion(version: number): SyncError {
  return new SyncError(MigrationErrorCode.UNKNOWN_VERSION, `there is no migration version ${version}`, { version });
}

function filesInvalid(message: string): SyncError {
  return new SyncError(MigrationErrorCode.FILES_INVALID, message);
}
