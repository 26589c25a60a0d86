/**
 * Conformance suite for the `Database` port: every adapter must pass it unchanged.
 * Call `databasePortConformance(setup)` inside a describe of the adapter's test file.
 */
import assert from 'node:assert/strict';
import { JsonText, type Database, type QueryObserver } from '../../../server/db/database';
import { isSyncError } from '../../../core/errors';

export interface ConformanceSetup {
  /** The suite's shared database (opened once, in `before`). */
  shared(): Database;
  /** Opens an extra instance on the same database (the suite closes it). */
  openExtra(observer?: QueryObserver): Promise<Database>;
}

const TABLE = 'conformance_items';

export function databasePortConformance(setup: ConformanceSetup): void {
  const db = () => setup.shared();

  beforeEach(async () => {
    await db().exec(`
      DROP TABLE IF EXISTS ${TABLE};
      CREATE TABLE ${TABLE} (
        id bigint PRIMARY KEY,
        name text NOT NULL UNIQUE,
        doc jsonb,
        price numeric,
        at timestamptz NOT NULL DEFAULT now()
      );`);
  });

  describe('#query', () => {
    it('binds $n parameters and reports rowCount for writes and reads', async () => {
      const insert = await db().query(`INSERT INTO ${TABLE} (id, name) VALUES ($1, $2), ($3, $4)`, [1, 'a', 2, 'b']);
      assert.equal(insert.rowCount, 2);
      const update = await db().query(`UPDATE ${TABLE} SET name = name || $1 WHERE id >= $2 RETURNING id`, ['!', 1]);
      assert.equal(update.rowCount, 2);
      assert.equal(update.rows.length, 2);
      const read = await db().query<{ name: string }>(`SELECT name FROM ${TABLE} WHERE id = $1`, [2]);
      assert.deepEqual(read.rows, [{ name: 'b!' }]);
      assert.equal(read.rowCount, 1);
    });

    it('returns int8 as number, numeric as string, jsonb parsed, timestamptz as Date, NULL as null', async () => {
      await db().query(`INSERT INTO ${TABLE} (id, name, doc, price) VALUES ($1, $2, $3::jsonb, $4)`, [
        9_007_199_254_740_000,
        'x',
        JSON.stringify({ a: [1, 'two'], b: null }),
        '12.50',
      ]);
      await db().query(`INSERT INTO ${TABLE} (id, name) VALUES (2, 'y')`);
      const { rows } = await db().query<{ id: unknown; doc: unknown; price: unknown; at: unknown; n: unknown }>(
        `SELECT id, doc, price, at, count(*) OVER () AS n FROM ${TABLE} ORDER BY id DESC`,
      );
      assert.equal(rows[0]?.id, 9_007_199_254_740_000);
      assert.equal(rows[0]?.n, 2);
      assert.deepEqual(rows[0]?.doc, { a: [1, 'two'], b: null });
      assert.equal(rows[0]?.price, '12.50');
      assert.ok(rows[0]?.at instanceof Date);
      assert.equal(rows[1]?.doc, null);
    });

    it('binds a JS array to an array parameter', async () => {
      await db().query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')`);
      const { rows } = await db().query<{ id: number }>(`SELECT id FROM ${TABLE} WHERE name = ANY($1::text[]) ORDER BY id`, [
        ['a', 'c'],
      ]);
      assert.deepEqual(
        rows.map((r) => r.id),
        [1, 3],
      );
    });

    it('binds JsonText as a json parameter, byte for byte, in a plain query and in a transaction', async () => {
      const rows = [{ id: 1, name: 'é✓ "quoted" \\ 😀', doc: { nested: ['x'.repeat(5000)] } }, { id: 2, name: 'b', doc: null }];
      const text = JSON.stringify(rows);
      const insert = `INSERT INTO ${TABLE} (id, name, doc) SELECT x.id, x.name, x.doc FROM json_to_recordset($1::json) AS x(id bigint, name text, doc jsonb)`;
      await db().query(insert, [new JsonText(text)]);
      const { rows: back } = await db().query<{ id: number; name: string; doc: unknown }>(`SELECT id, name, doc FROM ${TABLE} ORDER BY id`);
      assert.deepEqual(back, rows);
      const echoed = await db().transaction(async (tx) => (await tx.query<{ t: string }>('SELECT $1::json::text AS t', [new JsonText(text)])).rows[0]!.t);
      assert.equal(echoed, text);
    });

    it('throws DB_QUERY_FAILED with the SQLSTATE when the statement is wrong', async () => {
      await assert.rejects(db().query('SELECT FROM WHERE'), (err: unknown) => {
        assert.ok(isSyncError(err, 'DB_QUERY_FAILED'));
        assert.equal(err.details?.sqlState, '42601');
        return true;
      });
      await assert.rejects(db().query('SELECT * FROM no_such_table'), (err: unknown) => {
        assert.ok(isSyncError(err, 'DB_QUERY_FAILED'));
        assert.equal(err.details?.sqlState, '42P01');
        return true;
      });
    });

    it('throws DB_CONSTRAINT_VIOLATION naming the constraint on a duplicate key', async () => {
      await db().query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'a')`);
      await assert.rejects(db().query(`INSERT INTO ${TABLE} (id, name) VALUES ($1, $2)`, [2, 'a']), (err: unknown) => {
        assert.ok(isSyncError(err, 'DB_CONSTRAINT_VIOLATION'));
        assert.equal(err.details?.sqlState, '23505');
        assert.equal(err.details?.constraint, `${TABLE}_name_key`);
        return true;
      });
    });

    it('never puts parameter values into the error', async () => {
      const secret = 'hunter2-secret-value';
      for (const [sql, params] of [
        [`SELECT $1::integer`, [secret]],
        [`INSERT INTO ${TABLE} (id, name) VALUES (1, $1), (1, $1)`, [secret]],
        [`SELECT * FROM missing_table WHERE x = $1`, [secret]],
      ] as const) {
        const err = await db()
          .query(sql, params)
          .then(
            () => assert.fail('expected a failure'),
            (e: unknown) => e,
          );
        assert.ok(isSyncError(err), `not a SyncError: ${String(err)}`);
        const visible = JSON.stringify({ message: err.message, details: err.details, stack: err.stack });
        assert.ok(!visible.includes(secret), `leaked in ${visible}`);
      }
    });
  });

  describe('#exec', () => {
    it('runs a script of several statements', async () => {
      await db().exec(`
        INSERT INTO ${TABLE} (id, name) VALUES (1, 'a');
        INSERT INTO ${TABLE} (id, name) VALUES (2, 'b');
        UPDATE ${TABLE} SET name = 'z' WHERE id = 2;`);
      const { rows } = await db().query<{ name: string }>(`SELECT name FROM ${TABLE} ORDER BY id`);
      assert.deepEqual(
        rows.map((r) => r.name),
        ['a', 'z'],
      );
    });

    it('throws DB_QUERY_FAILED when a statement of the script fails', async () => {
      await assert.rejects(db().exec(`SELECT 1; SELECT * FROM no_such_table;`), (err: unknown) =>
        isSyncError(err, 'DB_QUERY_FAILED'),
      );
    });
  });

  describe('#transaction', () => {
    it('commits when the callback resolves and returns its value', async () => {
      const value = await db().transaction(async (tx) => {
        await tx.query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'a')`);
        const inside = await tx.query(`SELECT count(*)::int AS n FROM ${TABLE}`);
        return inside.rows[0]?.n;
      });
      assert.equal(value, 1);
      const { rows } = await db().query(`SELECT count(*)::int AS n FROM ${TABLE}`);
      assert.equal(rows[0]?.n, 1);
    });

    it('rolls back and rethrows the same error when the callback throws', async () => {
      const boom = new Error('boom');
      await assert.rejects(
        db().transaction(async (tx) => {
          await tx.query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'a')`);
          throw boom;
        }),
        (err: unknown) => err === boom,
      );
      const { rows } = await db().query(`SELECT count(*)::int AS n FROM ${TABLE}`);
      assert.equal(rows[0]?.n, 0);
    });

    it('rolls back when a statement fails and leaves the database usable', async () => {
      await assert.rejects(
        db().transaction(async (tx) => {
          await tx.query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'a')`);
          await tx.query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'b')`);
        }),
        (err: unknown) => isSyncError(err, 'DB_CONSTRAINT_VIOLATION'),
      );
      const { rows } = await db().query(`SELECT count(*)::int AS n FROM ${TABLE}`);
      assert.equal(rows[0]?.n, 0);
    });

    it('runs scripts inside the transaction with exec', async () => {
      await assert.rejects(
        db().transaction(async (tx) => {
          await tx.exec(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'a'); INSERT INTO ${TABLE} (id, name) VALUES (2, 'b');`);
          throw new Error('undo');
        }),
      );
      const { rows } = await db().query(`SELECT count(*)::int AS n FROM ${TABLE}`);
      assert.equal(rows[0]?.n, 0);
    });

    it('keeps concurrent transactions atomic', async () => {
      await db().query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'counter')`);
      await Promise.all(
        Array.from({ length: 10 }, () =>
          db().transaction(async (tx) => {
            const { rows } = await tx.query<{ id: number }>(`SELECT id FROM ${TABLE} WHERE name = 'counter' FOR UPDATE`);
            await tx.query(`UPDATE ${TABLE} SET id = $1 WHERE name = 'counter'`, [(rows[0]?.id ?? 0) + 1]);
          }),
        ),
      );
      const { rows } = await db().query(`SELECT id FROM ${TABLE} WHERE name = 'counter'`);
      assert.equal(rows[0]?.id, 11);
    });
  });

  describe('#withAdvisoryLock', () => {
    it('lets only one holder of a key run at a time', async () => {
      const events: string[] = [];
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let firstEntered!: () => void;
      const entered = new Promise<void>((resolve) => (firstEntered = resolve));
      const first = db().withAdvisoryLock(4242, async (session) => {
        events.push('first:start');
        firstEntered();
        await session.query('SELECT 1');
        await gate;
        events.push('first:end');
      });
      await entered;
      const second = db().withAdvisoryLock(4242, async () => {
        events.push('second:start');
      });
      // The second holder must still be waiting while the first holds the lock.
      await db().query('SELECT 1');
      assert.deepEqual(events, ['first:start']);
      release();
      await Promise.all([first, second]);
      assert.deepEqual(events, ['first:start', 'first:end', 'second:start']);
    });

    it('releases the lock when the callback throws', async () => {
      await assert.rejects(
        db().withAdvisoryLock(77, async () => {
          throw new Error('fail');
        }),
        /fail/,
      );
      const value = await db().withAdvisoryLock(77, async (session) => {
        const { rows } = await session.query<{ v: number }>('SELECT 5 AS v');
        return rows[0]?.v;
      });
      assert.equal(value, 5);
    });

    it('offers transactions on the locked connection', async () => {
      await db().withAdvisoryLock(78, async (session) => {
        await assert.rejects(
          session.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${TABLE} (id, name) VALUES (1, 'a')`);
            throw new Error('undo');
          }),
        );
        await session.transaction(async (tx) => {
          await tx.exec(`INSERT INTO ${TABLE} (id, name) VALUES (2, 'b')`);
        });
      });
      const { rows } = await db().query<{ id: number }>(`SELECT id FROM ${TABLE}`);
      assert.deepEqual(rows, [{ id: 2 }]);
    });
  });

  describe('#health', () => {
    it('reports ok with a latency', async () => {
      const health = await db().health();
      assert.equal(health.ok, true);
      assert.ok(health.latencyMs >= 0);
    });
  });

  describe('observers and #close', () => {
    let extra: Database;
    const seen: Array<{ durationMs: number; sql: string }> = [];
    const slow: Array<{ durationMs: number; sql: string }> = [];

    before(async () => {
      extra = await setup.openExtra({
        onQuery: (durationMs, sql) => seen.push({ durationMs, sql }),
        slowQueryMs: 0,
        onSlowQuery: (info) => slow.push(info),
      });
    });

    after(async () => {
      await extra.close();
    });

    it('reports every statement to onQuery and slow ones to onSlowQuery, without parameter values', async () => {
      await extra.query('SELECT $1::text AS secret', ['s3cr3t-param']);
      await extra.transaction((tx) => tx.query('SELECT 2'));
      const sqls = seen.map((s) => s.sql);
      assert.ok(sqls.includes('SELECT $1::text AS secret'));
      assert.ok(sqls.includes('SELECT 2'));
      assert.ok(seen.every((s) => s.durationMs >= 0));
      assert.ok(slow.some((s) => s.sql === 'SELECT $1::text AS secret'));
      assert.ok(!JSON.stringify([seen, slow]).includes('s3cr3t-param'));
    });

    it('is idempotent, and later calls fail with DB_CLOSED', async () => {
      await extra.close();
      await extra.close();
      await assert.rejects(extra.query('SELECT 1'), (err: unknown) => isSyncError(err, 'DB_CLOSED'));
      await assert.rejects(
        extra.transaction(async () => undefined),
        (err: unknown) => isSyncError(err, 'DB_CLOSED'),
      );
      const health = await extra.health();
      assert.equal(health.ok, false);
      assert.match(health.detail ?? '', /DB_CLOSED/);
    });
  });
}
