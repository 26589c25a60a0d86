/**
 * What docs/server.md ("Process kill versus power loss") and the README say the embedded
 * database does with its files, checked on PGlite as the relay opens it:
 * - PGlite starts PostgreSQL with `fsync = off` (`SHOW fsync` says `off`);
 * - commits are synchronous (`synchronous_commit = on`): a commit's WAL is written before the
 *   commit returns, which is what makes a killed process lose nothing it acknowledged;
 * - DATA_DIR is mounted through Emscripten's NODEFS, which has no fsync operation;
 * - every write reaches the real file at once: a committed row is in the WAL file on disk,
 *   read through another file descriptor, as soon as the statement returns;
 * - PostgreSQL's own default is `fsync = on` (the docs' advice for data that must survive power loss).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import { Client } from 'pg';
import type { Queryable } from '../../../server/db/database';
import { PgliteDatabase } from '../../../server/db/pglite-database';
import { pgliteTemplate, usePgliteDatabase } from '../../support/pglite';
import { TEST_DATABASE_URL } from '../../support/postgres';

/** The parts of PGlite's Emscripten module this test reads. */
interface EmscriptenModule {
  FS: { lookupPath(path: string): { node: { mount: { type: unknown; opts: { root?: string } } } } };
  NODEFS: { stream_ops: Record<string, unknown> };
}

async function show(db: Queryable, name: string): Promise<string> {
  const { rows } = await db.query<Record<string, string>>(`SHOW ${name}`);
  return rows[0]![name]!;
}

async function settingSource(db: Queryable, name: string): Promise<string> {
  const { rows } = await db.query<{ source: string }>(`SELECT source FROM pg_settings WHERE name = $1`, [name]);
  return rows[0]!.source;
}

describe('PGlite durability settings (docs/server.md, README)', function () {
  this.timeout(60_000);

  describe('in memory (the test template)', () => {
    const db = usePgliteDatabase();

    it('runs with fsync = off, set by PGlite at start, and synchronous_commit = on', async () => {
      assert.equal(await show(db(), 'fsync'), 'off');
      assert.equal(await settingSource(db(), 'fsync'), 'command line', 'PGlite passes fsync=off when it starts PostgreSQL');
      assert.equal(await show(db(), 'synchronous_commit'), 'on');
    });
  });

  describe('on a DATA_DIR, opened as the relay opens it', () => {
    let dir: string;
    let dataDir: string;
    let db: PgliteDatabase;
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'roo-pglite-durability-'));
      dataDir = join(dir, 'data');
      db = await PgliteDatabase.open({ dataDir, loadDataDir: await pgliteTemplate() });
    });
    after(async () => {
      await db?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('runs with fsync = off and synchronous_commit = on', async () => {
      assert.equal(await show(db, 'fsync'), 'off');
      assert.equal(await settingSource(db, 'fsync'), 'command line');
      assert.equal(await show(db, 'synchronous_commit'), 'on');
    });

    it('mounts the data directory through NODEFS, which has no fsync operation', async () => {
      // PgliteDatabase keeps its PGlite private; the Emscripten module is reached through it.
      const pg = (db as unknown as { pg?: PGlite }).pg;
      const mod = (pg as unknown as { Module?: EmscriptenModule } | undefined)?.Module;
      assert.ok(mod?.FS && mod.NODEFS, 'PgliteDatabase.pg.Module (FS, NODEFS) moved: update this test');
      if (!mod) return;
      const pgdata = await show(db, 'data_directory');
      const node = mod.FS.lookupPath(pgdata).node;
      assert.equal(node.mount.type, mod.NODEFS, `${pgdata} is a NODEFS mount`);
      assert.equal(node.mount.opts.root, dataDir, 'of DATA_DIR');
      assert.equal(typeof mod.NODEFS.stream_ops.write, 'function');
      assert.equal(mod.NODEFS.stream_ops.fsync, undefined, "NODEFS has no fsync: PostgreSQL's fsync calls do nothing");
    });

    it('has a committed row in the WAL file on disk as soon as the statement returns', async () => {
      const marker = `roo-durability-${randomUUID()}`;
      await db.query('CREATE TABLE durability_probe (marker text)');
      await db.query('INSERT INTO durability_probe (marker) VALUES ($1)', [marker]);
      // Read from the real files (another descriptor), PGlite still open: nothing is held back in the process.
      const walDir = join(dataDir, 'pg_wal');
      const segments = readdirSync(walDir).filter((f) => /^[0-9A-F]{24}$/.test(f));
      assert.ok(segments.length > 0, 'WAL segments on disk');
      const needle = Buffer.from(marker);
      assert.ok(segments.some((f) => readFileSync(join(walDir, f)).includes(needle)), 'the committed row is in a WAL segment on disk');
    });
  });

  describe('PostgreSQL (TEST_DATABASE_URL)', () => {
    it("defaults to fsync = on (the docs' advice where power loss matters)", async () => {
      const client = new Client({ connectionString: TEST_DATABASE_URL, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        const { rows } = await client.query<{ boot_val: string }>(`SELECT boot_val FROM pg_settings WHERE name = 'fsync'`);
        assert.equal(rows[0]!.boot_val, 'on');
      } finally {
        await client.end();
      }
    });
  });
});
