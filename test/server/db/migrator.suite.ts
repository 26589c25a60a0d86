/**
 * Migrator behaviour, run on every adapter (migrator.pglite.test.ts, migrator.postgres.test.ts).
 * The database handed in may hold anything; the suite wipes its schema before each test.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import type { Database } from '../../../server/db/database';
import { loadMigrations, migrate, rollback, status, validate, type Migration } from '../../../server/db/migrator';
import { wipeSchema } from '../../support/postgres';

const EXPECTED_TABLES = [
  'audit_log',
  'blob_upload_pieces',
  'blob_uploads',
  'blobs',
  'command_queue',
  'conversations',
  'devices',
  'file_changes',
  'file_sync_state',
  'message_changes',
  'messages',
  'offline_operations',
  'read_model_cursors',
  'schema_migrations',
  'sessions',
  'sync_log_heads',
  'sync_operations',
  'users',
  'workspaces',
];

/** Versions of the real migrations (server/db/migrations), oldest first, and the newest of them. */
const REAL_VERSIONS = loadMigrations().map((m) => m.version);
const LATEST_REAL = REAL_VERSIONS[REAL_VERSIONS.length - 1]!;

/** The real migrations plus two small ones on top, to exercise targets and rollbacks. */
export function testMigrations(): Migration[] {
  return loadMigrations({
    ...Object.fromEntries(loadMigrations().flatMap((m) => [
      [`${String(m.version).padStart(4, '0')}_${m.name}.up.sql`, m.up],
      [`${String(m.version).padStart(4, '0')}_${m.name}.down.sql`, m.down],
    ])),
    '0900_extra_a.up.sql': 'CREATE TABLE extra_a (id int PRIMARY KEY);',
    '0900_extra_a.down.sql': 'DROP TABLE extra_a;',
    '0901_extra_b.up.sql': 'CREATE TABLE extra_b (id int PRIMARY KEY); CREATE INDEX extra_b_idx ON extra_b (id);',
    '0901_extra_b.down.sql': 'DROP TABLE extra_b;',
  });
}

async function tables(db: Database): Promise<string[]> {
  const { rows } = await db.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`,
  );
  return rows.map((r) => r.tablename);
}

export function migratorSuite(getDb: () => Database): void {
  const db = () => getDb();

  beforeEach(async () => {
    await wipeSchema(db());
  });

  describe('#migrate', () => {
    it('creates every table on an empty database and records checksums and timings', async () => {
      const result = await migrate(db());
      const files = loadMigrations();
      assert.deepEqual(
        result.applied.map((r) => r.version),
        files.map((m) => m.version),
      );
      assert.equal(result.current, files[files.length - 1]!.version);
      assert.deepEqual(await tables(db()), EXPECTED_TABLES);
      const { rows } = await db().query<{ version: number; checksum: string; execution_ms: number; applied_at: Date }>(
        'SELECT version, checksum, execution_ms, applied_at FROM schema_migrations ORDER BY version',
      );
      assert.equal(rows[0]?.checksum, files[0]?.checksum);
      assert.match(rows[0]!.checksum, /^[0-9a-f]{64}$/);
      assert.ok(rows[0]!.execution_ms >= 0);
      assert.ok(rows[0]!.applied_at instanceof Date);
    });

    it('stores the big JSON columns with lz4 where the server has it, else with its default (PGlite, PostgreSQL 13)', async () => {
      await migrate(db());
      const { rows: methods } = await db().query<{ enumvals: string[] | null }>(
        "SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'",
      );
      const hasLz4 = methods[0]?.enumvals?.includes('lz4') ?? false;
      const compression = async () => (await db().query<{ attname: string; attcompression: string }>(
        `SELECT attname, attcompression::text AS attcompression FROM pg_attribute
          WHERE (attrelid, attname) IN (('sync_operations'::regclass, 'body'), ('messages'::regclass, 'content')) ORDER BY attname`,
      )).rows.map((r) => [r.attname, r.attcompression]);
      const want = hasLz4 ? 'l' : '';
      assert.deepEqual(await compression(), [['body', want]]); // messages.content is gone since 0011
      await rollback(db(), 10);
      assert.deepEqual(await compression(), [['body', want], ['content', want]]);
    });

    it('0011 names log changes instead of copying entries; undone, it copies each entry back from the log', async () => {
      await migrate(db());
      const { rows: [user] } = await db().query<{ id: string }>(`INSERT INTO users (email, password_hash) VALUES ('m@example.com', 'x') RETURNING id`);
      const { rows: [conv] } = await db().query<{ id: string }>(
        `INSERT INTO conversations (user_id, source, task_id) VALUES ($1, 'roo-code', 't') RETURNING id`, [user!.id]);
      await db().query(
        `INSERT INTO sync_operations (user_id, seq, device_id, client_seq, entity, change_type, body)
         VALUES ($1, 7, gen_random_uuid(), 1, 'e', 'stream.put', $2::json)`,
        [user!.id, '{"type":"stream.put","entry":{"text":"kept as sent","n":1.50}}'],
      );
      await db().query( // a body the schema before 0011 could not hold
        `INSERT INTO sync_operations (user_id, seq, device_id, client_seq, entity, change_type, body)
         VALUES ($1, 9, gen_random_uuid(), 2, 'e2', 'stream.put', $2::json)`,
        [user!.id, '{"type":"stream.put","entry":{"text":"bin\\u0000ary"}}'],
      );
      await db().query(
        `INSERT INTO messages (conversation_id, stream, entry_key, key_major, content_hash, seq)
         VALUES ($1, 'ui', '1:0', 1, 'h', 7), ($1, 'ui', '2:0', 2, 'h', 8), ($1, 'ui', '3:0', 3, 'h', 9)`, [conv!.id]);
      await rollback(db(), 10);
      const { rows } = await db().query<{ entry_key: string; content: string }>(
        'SELECT entry_key, content::text AS content FROM messages ORDER BY entry_key');
      assert.deepEqual(rows.map((r) => [r.entry_key, r.content]), [['1:0', '{"text":"kept as sent","n":1.50}'], ['2:0', 'null'], ['3:0', 'null']]);
      await migrate(db());
      assert.equal((await db().query(`SELECT 1 FROM pg_attribute WHERE attrelid = 'messages'::regclass AND attname = 'content' AND NOT attisdropped`)).rows.length, 0);
    });

    it('0012 indexes only superseded log rows, keys message_changes by (conversation_id, seq); undone, as before', async () => {
      const indexes = async () => (await db().query<{ tablename: string; indexname: string; indexdef: string }>(
        `SELECT tablename, indexname, indexdef FROM pg_indexes
          WHERE tablename IN ('sync_operations', 'message_changes') AND indexname NOT IN ('sync_operations_pkey', 'sync_operations_client_key', 'sync_operations_entity_idx')
          ORDER BY indexname`,
      )).rows.map((r) => [r.indexname, r.indexdef.replace(/^.* USING btree /, '')]);
      const columns = async () => (await db().query<{ attname: string }>(
        `SELECT attname FROM pg_attribute WHERE attrelid = 'message_changes'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attname`,
      )).rows.map((r) => r.attname);
      await migrate(db());
      assert.deepEqual(await indexes(), [
        ['message_changes_pkey', '(conversation_id, seq)'],
        ['sync_operations_superseded_idx', "(user_id, created_at) WHERE (status = 'superseded'::text)"],
      ]);
      assert.ok(!(await columns()).includes('id'));
      const { rows: [user] } = await db().query<{ id: string }>(`INSERT INTO users (email, password_hash) VALUES ('m@example.com', 'x') RETURNING id`);
      const { rows: [conv] } = await db().query<{ id: string }>(
        `INSERT INTO conversations (user_id, source, task_id) VALUES ($1, 'roo-code', 't') RETURNING id`, [user!.id]);
      const change = `INSERT INTO message_changes (conversation_id, stream, entry_key, change_type, seq) VALUES ($1, 'ui', '1:0', 'put', 5)`;
      await db().query(change, [conv!.id]);
      await assert.rejects(db().query(change, [conv!.id]), 'a change is in the history once');
      await rollback(db(), 11);
      assert.deepEqual(await indexes(), [
        ['message_changes_conversation_seq_key', '(conversation_id, seq)'],
        ['message_changes_pkey', '(id)'],
        ['sync_operations_status_idx', '(user_id, status, created_at)'],
      ]);
      assert.ok((await columns()).includes('id'));
      await migrate(db());
    });

    it('runs sync_push_batch with work_mem 64MB, so a migration-sized batch does not spill to temporary files', async () => {
      await migrate(db());
      for (const form of ['sync_push_batch(uuid[], json)', 'sync_push_batch(uuid[], json, json[])']) {
        const { rows } = await db().query<{ proconfig: string[] }>('SELECT proconfig FROM pg_proc WHERE oid = $1::regprocedure', [form]);
        assert.ok(rows[0]!.proconfig.includes('work_mem=64MB'), `${form}: ${JSON.stringify(rows[0]!.proconfig)}`);
      }
    });

    it('does nothing the second time', async () => {
      await migrate(db());
      const again = await migrate(db());
      assert.deepEqual(again.applied, []);
    });

    it('stops at the version given by `to`', async () => {
      const migrations = testMigrations();
      const result = await migrate(db(), { migrations, to: 900 });
      assert.deepEqual(result.applied.at(-1)?.version, 900);
      assert.equal(result.current, 900);
      assert.ok((await tables(db())).includes('extra_a'));
      assert.ok(!(await tables(db())).includes('extra_b'));
      const rest = await migrate(db(), { migrations });
      assert.deepEqual(
        rest.applied.map((r) => r.version),
        [901],
      );
    });

    it('rejects an unknown target with MIGRATION_UNKNOWN_VERSION', async () => {
      await assert.rejects(migrate(db(), { to: 777 }), (err: unknown) => isSyncError(err, 'MIGRATION_UNKNOWN_VERSION'));
    });

    it('rolls a failing migration back whole and records nothing for it (MIGRATION_FAILED)', async () => {
      const migrations = loadMigrations({
        '0001_ok.up.sql': 'CREATE TABLE ok_table (id int);',
        '0001_ok.down.sql': 'DROP TABLE ok_table;',
        '0002_broken.up.sql': 'CREATE TABLE half_done (id int); SELECT * FROM no_such_table;',
        '0002_broken.down.sql': 'DROP TABLE half_done;',
      });
      await assert.rejects(migrate(db(), { migrations }), (err: unknown) => {
        assert.ok(isSyncError(err, 'MIGRATION_FAILED'));
        assert.equal(err.details?.version, 2);
        return true;
      });
      assert.deepEqual(await tables(db()), ['ok_table', 'schema_migrations']);
      assert.equal((await status(db(), { migrations })).current, 1);
    });
  });

  describe('#rollback', () => {
    it('goes down to a version and back up again', async () => {
      const migrations = testMigrations();
      await migrate(db(), { migrations });
      const down = await rollback(db(), LATEST_REAL, { migrations });
      assert.deepEqual(
        down.rolledBack.map((r) => r.version),
        [901, 900],
      );
      assert.equal(down.current, LATEST_REAL);
      assert.ok(!(await tables(db())).includes('extra_a'));
      const up = await migrate(db(), { migrations });
      assert.deepEqual(
        up.applied.map((r) => r.version),
        [900, 901],
      );
    });

    it('undoes everything with version 0, after which migrate rebuilds the schema', async () => {
      await migrate(db());
      await rollback(db(), 0);
      assert.deepEqual(await tables(db()), ['schema_migrations']);
      await migrate(db());
      assert.deepEqual(await tables(db()), EXPECTED_TABLES);
    });

    it('rejects an unknown version with MIGRATION_UNKNOWN_VERSION', async () => {
      await migrate(db());
      for (const version of [99, -1, 1.5]) {
        await assert.rejects(rollback(db(), version), (err: unknown) => isSyncError(err, 'MIGRATION_UNKNOWN_VERSION'));
      }
    });
  });

  describe('#status', () => {
    it('lists pending migrations on an empty database without creating anything', async () => {
      const report = await status(db());
      assert.equal(report.current, 0);
      assert.ok(report.entries.every((e) => e.state === 'pending'));
      assert.deepEqual(await tables(db()), []);
    });

    it('shows applied, pending, changed and unknown migrations', async () => {
      const migrations = testMigrations();
      await migrate(db(), { migrations, to: 900 });
      await db().query(`UPDATE schema_migrations SET checksum = $1 WHERE version = 900`, ['0'.repeat(64)]);
      await db().query(
        `INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (950, 'from_the_future', $1, 1)`,
        ['f'.repeat(64)],
      );
      const report = await status(db(), { migrations });
      assert.deepEqual(
        report.entries.map((e) => [e.version, e.state]),
        [
          ...REAL_VERSIONS.map((v) => [v, 'applied']),
          [900, 'changed'],
          [901, 'pending'],
          [950, 'unknown'],
        ],
      );
      assert.equal(report.current, 950);
      assert.equal(report.latest, 901);
    });
  });

  describe('#validate', () => {
    it('passes on an up-to-date database and with pending migrations', async () => {
      const migrations = testMigrations();
      await migrate(db(), { migrations, to: 1 });
      const report = await validate(db(), { migrations });
      assert.equal(report.current, 1);
    });

    it('detects checksum drift of an applied migration (MIGRATION_CHECKSUM_MISMATCH), and migrate refuses to run', async () => {
      await migrate(db());
      const edited = loadMigrations().map((m) =>
        m.version === 1 ? { ...m, up: `${m.up}\n-- edited`, checksum: 'e'.repeat(64) } : m,
      );
      await assert.rejects(validate(db(), { migrations: edited }), (err: unknown) => {
        assert.ok(isSyncError(err, 'MIGRATION_CHECKSUM_MISMATCH'));
        assert.equal(err.details?.version, 1);
        return true;
      });
      await assert.rejects(migrate(db(), { migrations: edited }), (err: unknown) =>
        isSyncError(err, 'MIGRATION_CHECKSUM_MISMATCH'),
      );
      await assert.rejects(rollback(db(), 0, { migrations: edited }), (err: unknown) =>
        isSyncError(err, 'MIGRATION_CHECKSUM_MISMATCH'),
      );
    });

    it('reports an applied version without files as MIGRATION_UNKNOWN_VERSION', async () => {
      await migrate(db());
      await db().query(
        `INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES (950, 'from_the_future', $1, 1)`,
        ['f'.repeat(64)],
      );
      await assert.rejects(validate(db()), (err: unknown) => isSyncError(err, 'MIGRATION_UNKNOWN_VERSION'));
    });
  });
}
