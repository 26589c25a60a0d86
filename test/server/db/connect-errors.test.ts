/**
 * A failed start against PostgreSQL says in words what is wrong, keeping the code
 * (DB_UNAVAILABLE) and the SQLSTATE: against the real server for a database and a role that do
 * not exist and a port nothing listens on; from the driver's error shape for the states a test
 * server with trust auth cannot produce (28P01, 57P03, 53300). Regression: every one of them
 * read "database unavailable during query (SQLSTATE ...)".
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { isSyncError, type SyncError } from '../../../core/errors';
import { connectTargetOf, toConnectError } from '../../../server/db/db-errors';
import { PostgresDatabase } from '../../../server/db/postgres-database';
import { TEST_DATABASE_URL } from '../../support/postgres';

async function openFails(url: string): Promise<SyncError> {
  let caught: unknown;
  try {
    const db = await PostgresDatabase.open({ url, pool: { acquireTimeoutMs: 5_000 } });
    await db.close();
  } catch (err) {
    caught = err;
  }
  assert.ok(isSyncError(caught, 'DB_UNAVAILABLE'), `expected DB_UNAVAILABLE, got ${String(caught)}`);
  return caught as SyncError;
}

function withUrl(change: (url: URL) => void): string {
  const url = new URL(TEST_DATABASE_URL);
  change(url);
  return url.toString();
}

describe('PostgresDatabase.open failures in words', function () {
  this.timeout(30_000);
  const server = new URL(TEST_DATABASE_URL);
  const where = `${server.hostname}:${server.port || 5432}`;

  it('3D000: names the database that does not exist and the host', async () => {
    const err = await openFails(withUrl((url) => { url.pathname = '/roo_no_such_database'; }));
    assert.equal(err.message.startsWith(`database "roo_no_such_database" does not exist on ${where}`), true, err.message);
    assert.match(err.message, /\(SQLSTATE 3D000\)$/);
    assert.equal(err.details?.sqlState, '3D000');
    assert.doesNotMatch(err.message, /during query/);
  });

  it('28000: names the role that was refused', async () => {
    const err = await openFails(withUrl((url) => { url.username = 'roo_no_such_role'; }));
    assert.match(err.message, new RegExp(`^role "roo_no_such_role" was refused by ${where}: .*\\(SQLSTATE 28000\\)$`));
  });

  it('ECONNREFUSED: says it cannot connect to host:port, not "during query"', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const err = await openFails(`postgres://postgres@127.0.0.1:${port}/test`);
    assert.match(err.message, new RegExp(`^cannot connect to 127\\.0\\.0\\.1:${port}: connection refused.*\\(ECONNREFUSED\\)$`));
    assert.doesNotMatch(err.message, /during query/);
  });

  it('28P01, 57P03, 53300, 08001: in words, with the SQLSTATE', () => {
    const target = connectTargetOf('postgres://app:secret@db.internal:5433/roo');
    assert.deepEqual(target, { host: 'db.internal', port: 5433, database: 'roo', user: 'app' });
    const cases: Array<[string, RegExp]> = [
      ['28P01', /^password authentication failed for role "app" on db\.internal:5433: .*\(SQLSTATE 28P01\)$/],
      ['57P03', /^the database server on db\.internal:5433 is starting up or not accepting connections yet.*\(SQLSTATE 57P03\)$/],
      ['53300', /^too many connections on db\.internal:5433: .*\(SQLSTATE 53300\)$/],
      ['08001', /^cannot connect to db\.internal:5433: .*\(SQLSTATE 08001\)$/],
    ];
    for (const [code, words] of cases) {
      const err = toConnectError(Object.assign(new Error('FATAL: something'), { code }), target);
      assert.equal(err.code, 'DB_UNAVAILABLE', code);
      assert.match(err.message, words);
      assert.equal(err.details?.sqlState, code);
      assert.doesNotMatch(JSON.stringify(err), /secret/);
    }
  });
});
