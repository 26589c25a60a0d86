/**
 * Two relay processes' worth of relays sharing one PostgreSQL and one Redis: revoking a device
 * through one fires the revocation hook on the other within 1 s, and the other refuses the
 * device's token at once (the session cache in Redis is dropped too).
 */
import assert from 'node:assert/strict';
import type { Database } from '../../../server/db/database';
import { openDatabase } from '../../../server/db/open-database';
import type { RelayServer } from '../../../server/relay-server';
import { createTestDatabase, type TestDatabase } from '../../support/postgres';
import { deleteTestKeys, testRedisUrl, uniquePrefix } from '../../support/redis';
import { api, errorCode, signIn, startTestRelay } from '../http/relay-fixture';

describe('SessionValidator across relays (PostgreSQL + Redis)', () => {
  let testDb: TestDatabase;
  let db: Database;
  let first: RelayServer;
  let second: RelayServer;
  const prefix = uniquePrefix('revocation');

  before(async () => {
    testDb = await createTestDatabase();
    db = await openDatabase({ databaseUrl: testDb.url });
    const flags = { redisUrl: testRedisUrl(), redisKeyPrefix: prefix };
    first = await startTestRelay(db, flags);
    second = await startTestRelay(db, flags, { migrate: false });
  });
  after(async () => {
    await first?.close();
    await second?.close();
    await db?.close();
    await testDb?.drop();
    await deleteTestKeys(prefix);
  });

  describe('#onDeviceRevoked', () => {
    it('fires on the other relay within 1 s when a device is revoked through one', async () => {
      const laptop = await signIn(first, 'ann@example.com', 'laptop');
      const phone = await signIn(first, 'ann@example.com', 'phone');
      // The other relay has validated (and cached) the laptop's token.
      assert.equal((await api(second, 'GET', '/v1/devices', { token: laptop.accessToken })).status, 200);
      const expiresAt = Date.parse((laptop as typeof laptop & { accessTokenExpiresAt: string }).accessTokenExpiresAt);
      assert.deepEqual(await second.sessions.validateAccessToken(laptop.accessToken), { userId: laptop.userId, deviceId: laptop.deviceId, expiresAt });

      const started = Date.now();
      const heard = new Promise<{ deviceId: string; ms: number }>((resolve) => {
        const stop = second.sessions.onDeviceRevoked((deviceId) => {
          stop();
          resolve({ deviceId, ms: Date.now() - started });
        });
      });
      const res = await api(first, 'DELETE', `/v1/devices/${laptop.deviceId}`, { token: phone.accessToken });
      assert.equal(res.status, 204);
      const event = await Promise.race([heard, new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('no revocation within 1 s')), 1000).unref())]);
      assert.equal(event.deviceId, laptop.deviceId);
      assert.ok(event.ms < 1000, `heard after ${event.ms} ms`);
      assert.equal(await second.sessions.validateAccessToken(laptop.accessToken), null);
      assert.equal(errorCode(await api(second, 'GET', '/v1/devices', { token: laptop.accessToken })), 'AUTH_TOKEN_INVALID');
      assert.equal((await api(second, 'GET', '/v1/devices', { token: phone.accessToken })).status, 200);
    });

    it('shares the session cache: a validation on one relay is a cache hit on the other', async () => {
      const device = await signIn(first, 'bob@example.com');
      const hits = async (relay: RelayServer): Promise<number> => {
        const metric = await relay.metrics.cacheHits.get();
        return metric.values.find((v) => v.labels.cache === 'session')?.value ?? 0;
      };
      await first.sessions.validateAccessToken(device.accessToken);
      const before = await hits(second);
      assert.ok(await second.sessions.validateAccessToken(device.accessToken));
      assert.equal(await hits(second), before + 1);
    });
  });
});
