import { openCache, type CacheBackend } from '../../../server/cache/open-cache';
import type { Database } from '../../../server/db/database';
import { migrate } from '../../../server/db/migrator';
import { runProtocolConformance } from '../../conformance/protocol-conformance';
import { openTestPglite } from '../../support/pglite';
import { createTestDevice, createTestUser, revokeTestDevice, startSyncRelay } from '../../support/sync-relay';

runProtocolConformance('relay /v1/sync on PGlite with in-process pub/sub', async (options) => {
  const db: Database = await openTestPglite();
  await migrate(db);
  const backend: CacheBackend = await openCache();
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
      await db.close();
    },
  };
});
