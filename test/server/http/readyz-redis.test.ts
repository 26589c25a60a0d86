/**
 * /readyz and the redis_up gauge follow a real Redis going away and coming back, and the relay
 * keeps serving sign-ins and authenticated requests from the database meanwhile.
 */
import assert from 'node:assert/strict';
import type { PgliteDatabase } from '../../../server/db/pglite-database';
import type { RelayServer } from '../../../server/relay-server';
import { openTestPglite } from '../../support/pglite';
import { RedisServerProcess, waitFor } from '../../support/redis';
import { api, signIn, startTestRelay } from './relay-fixture';

describe('GET /readyz', () => {
  let db: PgliteDatabase;
  let redis: RedisServerProcess;
  let relay: RelayServer;

  before(async () => {
    db = await openTestPglite();
    redis = await RedisServerProcess.start();
    relay = await startTestRelay(db, { redisUrl: redis.url, redisConnectTimeoutMs: 500 });
  });
  after(async () => {
    await relay?.close();
    await redis?.stop();
    await db?.close();
  });

  it('is ready with Redis up, degraded (still 200) while it is down, ready again after', async () => {
    const ready = await api(relay, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.equal(ready.body.status, 'ready');
    assert.deepEqual(ready.body.cache, { kind: 'redis', ok: true });
    assert.match(await (await fetch(`${relay.url}/metrics`)).text(), /roo_sync_redis_up 1/);

    await redis.stop();
    await waitFor(async () => (await api(relay, 'GET', '/readyz')).body.status === 'degraded', 'readyz degraded');
    const degraded = await api(relay, 'GET', '/readyz');
    assert.equal(degraded.status, 200);
    assert.equal(degraded.body.cache.ok, false);
    assert.match(await (await fetch(`${relay.url}/metrics`)).text(), /roo_sync_redis_up 0/);
    const session = await signIn(relay, 'ann@example.com');
    assert.equal((await api(relay, 'GET', '/v1/devices', { token: session.accessToken })).status, 200);

    await redis.start();
    await waitFor(async () => (await api(relay, 'GET', '/readyz')).body.status === 'ready', 'readyz ready again', 15_000);
  });

  it('stops accepting connections on close(), which may be called twice', async () => {
    const other = await startTestRelay(db, {}, { migrate: false });
    assert.equal((await api(other, 'GET', '/healthz')).status, 200);
    await Promise.all([other.close(), other.close()]);
    await other.close();
    await assert.rejects(fetch(`${other.url}/healthz`));
    assert.equal((await db.health()).ok, true, 'an injected database is left open');
  });

  it('answers 503 unavailable when the database does not answer, while /healthz stays 200', async () => {
    const own = await openTestPglite();
    const other = await startTestRelay(own, {}, {});
    try {
      await own.close();
      const res = await api(other, 'GET', '/readyz');
      assert.equal(res.status, 503);
      assert.equal(res.body.status, 'unavailable');
      assert.equal(res.body.database.ok, false);
      assert.equal((await api(other, 'GET', '/healthz')).status, 200);
    } finally {
      await other.close();
    }
  });
});
