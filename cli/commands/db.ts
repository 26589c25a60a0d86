/**
 * `roo-sync db migrate [--to N] | rollback <version> | status | validate`: schema migrations
 * of the relay's database. PostgreSQL with --database-url (or DATABASE_URL), otherwise the
 * embedded PGlite database in --data-dir (or DATA_DIR, default ./.roo-sync/data).
 *
 * Only `migrate` creates a missing embedded database; `status`, `validate` and `rollback`
 * refuse a --data-dir without one (DB_DATA_DIR_NOT_FOUND), so a mistyped path is an error, not
 * a new empty database.
 *
 * Failures throw SyncError (the entry point prints `[CODE] message` and exits 1):
 * DB_UNAVAILABLE, DB_DATA_DIR_NOT_FOUND, DB_CONFIG_INVALID, MIGRATION_CHECKSUM_MISMATCH, MIGRATION_UNKNOWN_VERSION,
 * MIGRATION_FAILED, MIGRATION_FILES_INVALID.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Database } from '../../server/db/database';
import { migrate, rollback, status, validate, type MigrationStatus } from '../../server/db/migrator';
import { describeDatabaseUrl, openDatabase, type DatabaseConfig } from '../../server/db/open-database';
import { databaseConfig, withDatabaseOptions, writer, type DatabaseOptions } from './admin-connection';

export interface DbCommandDeps {
  /** Opens the database; default `openDatabase`. */
  open?: (config: DatabaseConfig) => Promise<Database>;
}

export function registerDbCommands(program: Command, deps: DbCommandDeps = {}): void {
  const open = deps.open ?? openDatabase;
  const db = program
    .command('db')
    .description('Database schema migrations (PostgreSQL with --database-url, else the embedded PGlite in --data-dir)');

  withDatabaseOptions(
    db
      .command('migrate')
      .description('Apply pending migrations (all, or up to --to), under an advisory lock')
      .addOption(new Option('--to <version>', 'stop after this version').argParser(parseVersion)),
  ).action(async (options: DatabaseOptions & { to?: number }, cmd: Command) => {
    await withDatabase(open, options, cmd, async (database, out) => {
      const result = await migrate(database, { to: options.to });
      for (const run of result.applied) out(`applied  ${label(run.version, run.name)}  ${run.durationMs.toFixed(0)} ms`);
      out(
        result.applied.length === 0
          ? `up to date at version ${result.current}`
          : `now at version ${result.current} (${result.applied.length} applied)`,
      );
    });
  });

  withDatabaseOptions(
    db
      .command('rollback')
      .description('Undo applied migrations above <version>, newest first (0 undoes everything)')
      .argument('<version>', 'the version to go back to', parseVersion),
    true,
  ).action(async (version: number, options: DatabaseOptions, cmd: Command) => {
    await withDatabase(open, options, cmd, async (database, out) => {
      const result = await rollback(database, version);
      for (const run of result.rolledBack) out(`rolled back  ${label(run.version, run.name)}  ${run.durationMs.toFixed(0)} ms`);
      out(
        result.rolledBack.length === 0
          ? `nothing to roll back; at version ${result.current}`
          : `now at version ${result.current} (${result.rolledBack.length} rolled back)`,
      );
    });
  });

  withDatabaseOptions(
    db.command('status').description('List migrations and whether each is applied').option('--json', 'print JSON'),
    true,
  ).action(async (options: DatabaseOptions & { json?: boolean }, cmd: Command) => {
    await withDatabase(open, options, cmd, async (database, out) => {
      const report = await status(database);
      if (options.json) out(JSON.stringify(report, null, 2));
      else printStatus(report, out);
    });
  });

  withDatabaseOptions(
    db.command('validate').description('Check that applied migrations match their files (checksum drift is an error)'),
    true,
  ).action(async (options: DatabaseOptions, cmd: Command) => {
    await withDatabase(open, options, cmd, async (database, out) => {
      const report = await validate(database);
      const applied = report.entries.filter((e) => e.state === 'applied').length;
      const pending = report.entries.filter((e) => e.state === 'pending').length;
      out(`valid: ${applied} applied migration(s) match their files; ${pending} pending`);
    });
  });
}

async function withDatabase(
  open: (config: DatabaseConfig) => Promise<Database>,
  options: DatabaseOptions,
  cmd: Command,
  fn: (db: Database, out: (line: string) => void) => Promise<void>,
): Promise<void> {
  const out = writer(cmd);
  const database = await open(databaseConfig(options, cmd));
  try {
    out(`database: ${options.databaseUrl ? describeDatabaseUrl(options.databaseUrl) : `embedded PGlite in ${options.dataDir}`}`);
    await fn(database, out);
  } finally {
    await database.close();
  }
}

function printStatus(report: MigrationStatus, out: (line: string) => void): void {
  out(`current version ${report.current}, latest ${report.latest}`);
  out(['VERSION', 'NAME'.padEnd(24), 'STATE'.padEnd(8), 'APPLIED AT'.padEnd(24), 'MS'].join('  '));
  for (const entry of report.entries) {
    out(
      [
        String(entry.version).padStart(7),
        entry.name.padEnd(24),
        entry.state.padEnd(8),
        (entry.appliedAt?.toISOString() ?? '-').padEnd(24),
        entry.executionMs === undefined ? '-' : String(entry.executionMs),
      ].join('  '),
    );
  }
}

function label(version: number, name: string): string {
  return `${String(version).padStart(4, '0')}_${name}`;
}

function parseVersion(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a version is a whole number (0, 1, 2, ...)');
  return Number(value);
}
