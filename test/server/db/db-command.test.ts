/**
 * `roo-sync db ...` (cli/commands/db.ts): in process through buildProgram() for the happy
 * paths, and as a child process for exit codes and coded errors.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isSyncError } from '../../../core/errors';
import { buildProgram } from '../../../cli/main';
import { loadMigrations } from '../../../server/db/migrator';
import { PgliteDatabase } from '../../../server/db/pglite-database';
import { PostgresDatabase } from '../../../server/db/postgres-database';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { pgliteTemplate } from '../../support/pglite';

/** The newest migration version (the CLI migrates up to it). */
const LATEST = loadMigrations().at(-1)!.version;
const COUNT = loadMigrations().length;

const ROOT = join(__dirname, '..', '..', '..');

async function runInProcess(args: string[]): Promise<string> {
  let out = '';
  const program = buildProgram()
    .exitOverride()
    .configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  await program.parseAsync(['node', 'roo-sync', ...args]);
  return out;
}

function runChild(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env };
    delete env.DATABASE_URL;
    delete env.DATA_DIR;
    execFile(
      process.execPath,
      ['--require', 'tsx/cjs', join(ROOT, 'cli', 'main.ts'), ...args],
      { cwd: ROOT, env, timeout: 60_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('roo-sync db', () => {
  describe('on PostgreSQL (--database-url)', () => {
    let testDb: TestDatabase;
    before(async () => {
      testDb = await createTestDatabase();
    });
    after(async () => {
      await testDb?.drop();
    });

    it('migrates, reports status, validates and rolls back', async () => {
      const migrated = await runInProcess(['db', 'migrate', '--database-url', testDb.url]);
      assert.match(migrated, /applied {2}0001_initial/);
      assert.match(migrated, new RegExp(`now at version ${LATEST}`));
      assert.ok(!migrated.includes('postgres@'), 'credentials/user must not be printed');

      const again = await runInProcess(['db', 'migrate', '--database-url', testDb.url]);
      assert.match(again, new RegExp(`up to date at version ${LATEST}`));

      const report = JSON.parse(
        (await runInProcess(['db', 'status', '--json', '--database-url', testDb.url])).split('\n').slice(1).join('\n'),
      ) as { current: number; entries: Array<{ state: string }> };
      assert.equal(report.current, LATEST);
      assert.equal(report.entries[0]?.state, 'applied');

      assert.match(await runInProcess(['db', 'validate', '--database-url', testDb.url]), new RegExp(`valid: ${COUNT} applied`));

      const back = await runInProcess(['db', 'rollback', '0', '--database-url', testDb.url]);
      assert.match(back, /rolled back {2}0001_initial/);
      assert.match(await runInProcess(['db', 'status', '--database-url', testDb.url]), /1 {2}initial +pending/);
    });

    it('exits 1 with MIGRATION_CHECKSUM_MISMATCH when an applied migration drifted', async function () {
      this.timeout(60_000);
      await runInProcess(['db', 'migrate', '--database-url', testDb.url]);
      const db = await PostgresDatabase.open({ url: testDb.url, pool: { max: 1 } });
      try {
        await db.query(`UPDATE schema_migrations SET checksum = $1 WHERE version = 1`, ['0'.repeat(64)]);
      } finally {
        await db.close();
      }
      const result = await runChild(['db', 'validate', '--database-url', testDb.url]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /\[MIGRATION_CHECKSUM_MISMATCH\]/);
    });
  });

  describe('errors', () => {
    it('exits 1 with DB_UNAVAILABLE when PostgreSQL cannot be reached', async function () {
      this.timeout(60_000);
      const result = await runChild(['db', 'status', '--database-url', 'postgres://nobody:secretpw@127.0.0.1:1/none']);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /\[DB_UNAVAILABLE\]/);
      assert.ok(!result.stderr.includes('secretpw'));
    });

    it('exits 2 (a usage error) for a version that is not a number', async function () {
      this.timeout(60_000);
      const result = await runChild(['db', 'rollback', 'latest', '--database-url', 'postgres://127.0.0.1:1/none']);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /a version is a whole number/);
    });

    it('rejects a URL that is not postgres:// with DB_CONFIG_INVALID', async () => {
      await assert.rejects(runInProcess(['db', 'status', '--database-url', 'mysql://x/y']), (err: unknown) =>
        isSyncError(err, 'DB_CONFIG_INVALID'),
      );
    });
  });

  describe('on the embedded PGlite (--data-dir)', () => {
    let dir: string;
    before(async function () {
      this.timeout(120_000);
      dir = join(mkdtempSync(join(tmpdir(), 'roo-db-cli-')), 'data');
      // Seed the data directory from the template: initdb would take seconds.
      const seeded = await PgliteDatabase.open({ dataDir: dir, loadDataDir: await pgliteTemplate() });
      await seeded.close();
    });
    after(() => {
      if (dir) rmSync(join(dir, '..'), { recursive: true, force: true });
    });

    it('migrates the database in the data directory, taking over a stale lock', async () => {
      writeFileSync(join(dir, 'roo-sync.lock'), '2147483646'); // no such process
      const out = await runInProcess(['db', 'migrate', '--data-dir', dir]);
      assert.match(out, /embedded PGlite in /);
      assert.match(out, new RegExp(`now at version ${LATEST}`));
      assert.ok(!existsSync(join(dir, 'roo-sync.lock')), 'the lock is released on close');
    });

    it('refuses a data directory a live process has open (DB_DATA_DIR_LOCKED)', async () => {
      writeFileSync(join(dir, 'roo-sync.lock'), String(process.pid));
      try {
        await assert.rejects(runInProcess(['db', 'status', '--data-dir', dir]), (err: unknown) =>
          isSyncError(err, 'DB_DATA_DIR_LOCKED'),
        );
      } finally {
        rmSync(join(dir, 'roo-sync.lock'), { force: true });
      }
    });
  });
});
