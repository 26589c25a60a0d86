/**
 * startRelayServer with migration off (`--no-migrate`, NO_MIGRATE=1) checks the schema instead
 * of migrating it. Regression: it started against pending migrations, said /readyz ready, and
 * failed later on the first query that needed the missing schema.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../core/errors';
import { loadRelayConfig } from '../../server/config/load-config';
import { loadMigrations, migrate, status } from '../../server/db/migrator';
import type { PgliteDatabase } from '../../server/db/pglite-database';
import { silentLogger } from '../../server/observability/logger';
import { startRelayServer } from '../../server/relay-server';
import { openTestPglite } from '../support/pglite';

const NO_MIGRATE = loadRelayConfig({ env: { NO_MIGRATE: '1' }, flags: { port: 0, logLevel: 'silent', compactionIntervalSeconds: 0 } });

async function refusal(db: PgliteDatabase): Promise<{ code: string; message: string; details: Record<string, unknown> }> {
  try {
    const relay = await startRelayServer(NO_MIGRATE, { db, logger: silentLogger });
    await relay.close();
  } catch (err) {
    assert.ok(isSyncError(err), `expected a SyncError, got ${String(err)}`);
    return { code: err.code, message: err.message, details: err.details ?? {} };
  }
  return assert.fail('the relay started');
}

describe('startRelayServer with migration off', function () {
  this.timeout(60_000);
  const latest = Math.max(...loadMigrations().map((m) => m.version));
  let db: PgliteDatabase | undefined;

  beforeEach(async () => {
    db = await openTestPglite();
  });
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  it('refuses to start with MIGRATION_PENDING when the schema is one version behind (regression: it started and failed at run time)', async () => {
    await migrate(db!, { to: latest - 1 });
    const { code, message, details } = await refusal(db!);
    assert.equal(code, 'MIGRATION_PENDING');
    assert.match(message, /roo-sync db migrate/);
    assert.deepEqual(details, { current: latest - 1, latest, pending: [latest] });
    assert.equal((await status(db!)).current, latest - 1, 'the relay did not migrate');
  });

  it('refuses an empty database with MIGRATION_PENDING', async () => {
    const { code, details } = await refusal(db!);
    assert.equal(code, 'MIGRATION_PENDING');
    assert.equal(details.current, 0);
  });

  it('refuses an applied migration whose file changed (MIGRATION_CHECKSUM_MISMATCH)', async () => {
    await migrate(db!);
    await db!.query(`UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1`);
    assert.equal((await refusal(db!)).code, 'MIGRATION_CHECKSUM_MISMATCH');
  });

  it('refuses a database migrated by a newer relay (MIGRATION_UNKNOWN_VERSION)', async () => {
    await migrate(db!);
    await db!.query(`INSERT INTO schema_migrations (version, name, checksum, execution_ms) VALUES ($1, 'from_the_future', 'x', 1)`, [latest + 1]);
    assert.equal((await refusal(db!)).code, 'MIGRATION_UNKNOWN_VERSION');
  });

  it('starts and is ready on an up-to-date schema', async () => {
    await migrate(db!);
    const relay = await startRelayServer(NO_MIGRATE, { db: db!, logger: silentLogger });
    try {
      const ready = (await (await fetch(`${relay.url}/readyz`)).json()) as { status: string };
      assert.equal(ready.status, 'ready');
    } finally {
      await relay.close();
    }
  });
});
