/** PostgreSQL-only behaviour of the pg adapter: pool limits, timeouts, configuration, opening. */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { JsonText, prepared, preparedName, type Database } from '../../../server/db/database';
import { loadMigrations, migrate } from '../../../server/db/migrator';
import { openDatabase } from '../../../server/db/open-database';
import { PostgresDatabase } from '../../../server/db/postgres-database';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';

describe('PostgresDatabase', () => {
  let testDb: TestDatabase;
  const opened: Database[] = [];
  const open = async (options: Parameters<typeof PostgresDatabase.open>[0]) => {
    const db = await PostgresDatabase.open(options);
    opened.push(db);
    return db;
  };

  before(async () => {
    testDb = await createTestDatabase();
  });
  after(async () => {
    await Promise.all(opened.map((db) => db.close()));
    await testDb?.drop();
  });

  describe('prepared statements', () => {
    it('parses a statement marked prepared once per connection, in and out of transactions, and answers as before', async () => {
      const db = await open({ url: testDb.url, pool: { max: 1 } });
      const sql = prepared('SELECT $1::int + 1 AS n, ($2::json ->> 0) AS first');
      const name = preparedName(sql)!;
      assert.match(name, /^roo_[0-9a-f]{24}$/);
      assert.equal(preparedName('SELECT 1'), undefined, 'other statements stay unnamed');
      for (let i = 0; i < 3; i++) {
        assert.deepEqual((await db.query(sql, [i, new JsonText('["a"]')])).rows, [{ n: i + 1, first: 'a' }]);
        assert.deepEqual(await db.transaction(async (tx) => (await tx.query(sql, [i, new JsonText('["b"]')])).rows), [{ n: i + 1, first: 'b' }]);
      }
      const { rows } = await db.query<{ name: string }>('SELECT name FROM pg_prepared_statements');
      assert.deepEqual(rows.map((r) => r.name), [name], 'one named statement on the one connection');
      // Several statements without parameters still go as one simple query.
      await db.transaction(async (tx) => { await tx.query('SET LOCAL lock_timeout = 1000; SET LOCAL enable_bitmapscan = off'); });
    });
  });

  describe('.open', () => {
    it('fails with DB_UNAVAILABLE when nothing listens at the URL', async () => {
      await assert.rejects(
        PostgresDatabase.open({ url: 'postgres://postgres@127.0.0.1:1/none', pool: { acquireTimeoutMs: 2000 } }),
        (err: unknown) => isSyncError(err, 'DB_UNAVAILABLE'),
      );
    });

    it('fails with DB_UNAVAILABLE when the database does not exist', async () => {
      const url = new URL(testDb.url);
      url.pathname = '/roo_no_such_database';
      await assert.rejects(PostgresDatabase.open({ url: url.toString() }), (err: unknown) => isSyncError(err, 'DB_UNAVAILABLE'));
    });

    it('rejects bad pool options with DB_CONFIG_INVALID', () => {
      for (const pool of [{ max: 0 }, { acquireTimeoutMs: -1 }, { statementTimeoutMs: 1.5 }]) {
        assert.throws(
          () => new PostgresDatabase({ url: testDb.url, pool }),
          (err: unknown) => isSyncError(err, 'DB_CONFIG_INVALID'),
        );
      }
    });
  });

  describe('pool options', () => {
    it('cancels a statement that runs past statementTimeoutMs with DB_TIMEOUT', async () => {
      const db = await open({ url: testDb.url, pool: { max: 1, statementTimeoutMs: 150 } });
      await assert.rejects(db.query('SELECT pg_sleep(5)'), (err: unknown) => isSyncError(err, 'DB_TIMEOUT'));
      const { rows } = await db.query<{ v: number }>('SELECT 1 AS v');
      assert.equal(rows[0]?.v, 1);
    });

    it('fails with DB_TIMEOUT when no connection frees up within acquireTimeoutMs', async () => {
      const db = await open({ url: testDb.url, pool: { max: 1, acquireTimeoutMs: 150 } });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const holding = db.transaction(async () => {
        entered();
        await gate;
      });
      await inside;
      await assert.rejects(db.query('SELECT 1'), (err: unknown) => isSyncError(err, 'DB_TIMEOUT'));
      const health = await db.health();
      assert.equal(health.ok, false);
      assert.equal(health.pool?.total, 1);
      release();
      await holding;
      assert.equal((await db.health()).ok, true);
    });

    it('lets migrations run longer than the statement timeout', async () => {
      const db = await open({ url: testDb.url, pool: { max: 1, statementTimeoutMs: 100 } });
      const migrations = loadMigrations({
        '0001_slow.up.sql': 'SELECT pg_sleep(0.3); CREATE TABLE slow_done (id int);',
        '0001_slow.down.sql': 'DROP TABLE slow_done;',
      });
      const result = await migrate(db, { migrations, lockKey: 991 });
      assert.equal(result.applied.length, 1);
      await assert.rejects(db.query('SELECT pg_sleep(1)'), (err: unknown) => isSyncError(err, 'DB_TIMEOUT'));
    });
  });

  describe('lost connections', () => {
    it('fails a transaction whose connection was killed with DB_UNAVAILABLE, then recovers', async () => {
      const db = await open({ url: testDb.url, pool: { max: 1 } });
      const admin = await open({ url: testDb.url, pool: { max: 1 } });
      await assert.rejects(
        db.transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          await tx.query('SELECT 1');
        }),
        (err: unknown) => isSyncError(err, 'DB_UNAVAILABLE'),
      );
      const { rows } = await db.query<{ v: number }>('SELECT 2 AS v');
      assert.equal(rows[0]?.v, 2);
    });
  });

  describe('slow-query log', () => {
    it('reports statements above the threshold with their text only', async () => {
      const slow: string[] = [];
      const db = await open({
        url: testDb.url,
        slowQueryMs: 50,
        onSlowQuery: ({ sql, durationMs }) => {
          assert.ok(durationMs >= 50);
          slow.push(sql);
        },
      });
      await db.query('SELECT pg_sleep(0.1), $1::text AS secret', ['pw-123']);
      assert.ok(slow.includes('SELECT pg_sleep(0.1), $1::text AS secret'));
      assert.ok(!slow.join('\n').includes('pw-123'));
    });
  });

  describe('openDatabase', () => {
    it('opens PostgreSQL when a URL is given', async () => {
      const db = await openDatabase({ databaseUrl: testDb.url, dataDir: '/nonexistent', pool: { max: 1 } });
      opened.push(db);
      assert.equal(db.kind, 'postgres');
    });

    it('rejects a URL of another kind with DB_CONFIG_INVALID', async () => {
      for (const databaseUrl of ['mysql://host/db', 'not a url']) {
        await assert.rejects(openDatabase({ databaseUrl }), (err: unknown) => isSyncError(err, 'DB_CONFIG_INVALID'));
      }
    });
  });
});
