import { openCache, type CacheBackend } from '../../../server/cache/open-cache';
import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import { openDatabase } from '../../../server/db/open-database';
import { runProtocolConformance } from '../../conformance/protocol-conformance';
import { createTestDatabase } from '../../support/postgres';
import { connectTestRedis, deleteKeysWithPrefix, testRedisUrl, uniquePrefix } from '../../support/redis';
import { createTestDevice, createTestUser, revokeTestDevice, startSyncRelay } from '../../support/sync-relay';

runProtocolConformance('relay /v1/sync on PostgreSQL with Redis', async (options) => {
  const testDb = await createTestDatabase();
  const db: Database = await openDatabase({ databaseUrl: testDb.url });
  await migrate(db);
  const prefix = uniquePrefix('sync-conformance');
  const redis = await connectTestRedis();
  const backend: CacheBackend = await openCache({ redisUrl: testRedisUrl(), keyPrefix: prefix, waitForReadyMs: 5_000 });
  if (!backend.healthy()) throw new Error('Redis is not reachable for the conformance suite');
  const relay = await startSyncRelay({
    db,
    backend,
    ws: {
      helloTimeoutMs: options.helloTimeoutMs,
      maxFrameBytes: options.maxFrameBytes,
      maxInflatedFrameBytes: options.maxInflatedBytes,
      rateLimitPerSecond: 10_000,
      rateLimitBurst: 10_000,
    },
  });
  return {
    url: relay.url,
    createUser: () => createTestUser(db),
    createDevice: (userId) => createTestDevice(db, userId),
    revokeDevice: (deviceId) => revokeTestDevice(db, relay.sessions, deviceId),
    async close() {
      await relay.close();
      await backend.close();
      await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
      redis.disconnect();
      await db.close();
      await testDb.drop();
    },
  };
});
