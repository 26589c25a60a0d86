/**
 * The relay's JSON logs never carry a password or token, even at trace level, and an internal
 * failure is logged while the client gets only `internal error`.
 */
import assert from 'node:assert/strict';
import { createUser } from '../../../server/accounts/users';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import { createLogger } from '../../../server/observability/logger';
import { startRelayServer, type RelayServer } from '../../../server/relay-server';
import { openTestPglite } from '../../support/pglite';
import { api, errorCode, PASSWORD, testConfig } from './relay-fixture';

describe('relay logs', () => {
  let db: PgliteDatabase;
  let relay: RelayServer;
  const lines: string[] = [];

  before(async () => {
    db = await openTestPglite();
    const logger = createLogger({ level: 'trace', sink: { write: (line: string) => lines.push(line) } });
    relay = await startRelayServer(testConfig(), { db, logger }, { compactionIntervalMs: 0 });
  });
  after(async () => {
    await relay?.close();
    await db?.close();
  });

  it('are JSON lines without passwords or tokens through sign-in, refresh, use and logout', async () => {
    await createUser(db, { email: 'ann@example.com', password: PASSWORD });
    const login = await api(relay, 'POST', '/v1/auth/login', { body: { email: 'ann@example.com', password: PASSWORD, device: { name: 'laptop' } } });
    assert.equal(login.status, 200);
    const refreshed = await api(relay, 'POST', '/v1/auth/refresh', { body: { refreshToken: login.body.refreshToken } });
    await api(relay, 'GET', '/v1/devices', { token: refreshed.body.accessToken }); // the new pair used: no reuse grace
    await api(relay, 'POST', '/v1/auth/refresh', { body: { refreshToken: login.body.refreshToken } }); // reuse: logged as a warning
    await api(relay, 'POST', '/v1/auth/logout', { token: refreshed.body.accessToken });
    assert.ok(lines.length > 5);
    for (const line of lines) JSON.parse(line);
    const all = lines.join('\n');
    for (const secret of [PASSWORD, login.body.accessToken, login.body.refreshToken, refreshed.body.accessToken, refreshed.body.refreshToken]) {
      assert.ok(!all.includes(secret), 'a secret reached the log');
    }
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'rotated refresh token presented again; session family and device revoked'));
  });

  it('logs an internal failure and answers 500 INTERNAL without its message', async () => {
    const original = relay.db.query.bind(relay.db);
    // Any non-SyncError from below the routes: here a broken database driver.
    (relay.db as { query: unknown }).query = async () => { throw new Error('driver exploded: secret-detail'); };
    try {
      const res = await api(relay, 'POST', '/v1/users', { body: { email: 'x@example.com', password: PASSWORD } });
      assert.equal(res.status, 403); // sign-up is off: answered before any query
      const login = await api(relay, 'POST', '/v1/auth/login', { body: { email: 'x@example.com', password: PASSWORD } });
      assert.equal(login.status, 500);
      assert.equal(errorCode(login), 'INTERNAL');
      assert.equal(login.body.error.message, 'internal error');
    } finally {
      (relay.db as { query: unknown }).query = original;
    }
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'http request failed'));
    assert.equal((await api(relay, 'GET', '/healthz')).status, 200);
  });
});
