import assert from 'node:assert/strict';
import type { Database } from '../../../server/db/database';
import { loadMigrations, migrate, status } from '../../../server/db/migrator';
import { PostgresDatabase } from '../../../server/db/postgres-database';
import { createTestDatabase, usePostgresDatabase, type TestDatabase } from '../../support/postgres';
import { migratorSuite } from './migrator.suite';

describe('migrator on PostgreSQL', () => {
  migratorSuite(usePostgresDatabase({ poolMax: 2 }));

  describe('two servers starting at once', () => {
    let fresh: TestDatabase;
    const servers: Database[] = [];
    before(async () => {
      fresh = await createTestDatabase();
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.close()));
      await fresh?.drop();
    });

    it('migrate once: one applies every migration, the other waits and finds nothing to do', async () => {
      // The first migration also sleeps while holding the lock, so the two runs overlap.
      const files = Object.fromEntries(
        loadMigrations().flatMap((m) => [
          [`${String(m.version).padStart(4, '0')}_${m.name}.up.sql`, m.version === 1 ? `SELECT pg_sleep(0.3);\n${m.up}` : m.up],
          [`${String(m.version).padStart(4, '0')}_${m.name}.down.sql`, m.down],
        ]),
      );
      const migrations = loadMigrations(files);
      servers.push(
        await PostgresDatabase.open({ url: fresh.url, pool: { max: 2 } }),
        await PostgresDatabase.open({ url: fresh.url, pool: { max: 2 } }),
      );
      const results = await Promise.all(servers.map((s) => migrate(s, { migrations })));
      const counts = results.map((r) => r.applied.length).sort();
      assert.deepEqual(counts, [0, migrations.length]);
      const report = await status(servers[0]!, { migrations });
      assert.ok(report.entries.every((e) => e.state === 'applied'));
      const { rows } = await servers[0]!.query('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(rows[0]?.n, migrations.length);
    });
  });
});
