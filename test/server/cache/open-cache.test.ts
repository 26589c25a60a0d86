import assert from 'node:assert/strict';
import { MemoryPubSubHub } from '../../../server/cache/memory-pubsub';
import { openCache } from '../../../server/cache/open-cache';
import { RelayMetrics } from '../../../server/observability/metrics';
import { connectTestRedis, deleteKeysWithPrefix, testRedisUrl, uniquePrefix, waitFor } from '../../support/redis';

describe('openCache', () => {
  it('uses the in-process adapters when no Redis URL is given', async () => {
    const hub = new MemoryPubSubHub();
    const one = await openCache({ memoryHub: hub });
    const two = await openCache({ memoryHub: hub });
    assert.equal(one.kind, 'memory');
    assert.equal(one.healthy(), true);
    await one.cache.set('k', 'v', 60);
    assert.equal(await one.cache.get('k'), 'v');
    const received: string[] = [];
    await two.pubsub.subscribe('c', (message) => received.push(message));
    await one.pubsub.publish('c', 'm');
    await waitFor(() => received.length === 1, 'the message');
    await one.close();
    await one.close();
    await two.close();
    assert.equal(one.healthy(), false);
  });

  it('uses Redis with the deployment prefix when a URL is given, and binds redis_up', async () => {
    const admin = await connectTestRedis();
    const keyPrefix = uniquePrefix('open-cache');
    const metrics = new RelayMetrics();
    const backend = await openCache({ redisUrl: testRedisUrl(), keyPrefix, metrics, waitForReadyMs: 5_000 });
    try {
      assert.equal(backend.kind, 'redis');
      assert.equal(backend.healthy(), true);
      await backend.cache.set('k', 'v', 60);
      assert.equal(await admin.get(`${keyPrefix}k`), 'v');
      const received: string[] = [];
      await backend.pubsub.subscribe('c', (message) => received.push(message));
      await admin.publish(`${keyPrefix}c`, 'raw');
      await waitFor(() => received.length === 1, 'the message');
      const text = await metrics.render();
      assert.match(text, /^roo_sync_redis_up 1$/m);
      assert.match(text, /^roo_sync_redis_configured 1$/m);
    } finally {
      await backend.close();
      await deleteKeysWithPrefix(admin, keyPrefix);
      admin.disconnect();
    }
    assert.match(await metrics.render(), /^roo_sync_redis_configured 0$/m);
  });

  it('returns a degraded backend at once when Redis is not reachable', async () => {
    const backend = await openCache({ redisUrl: 'redis://127.0.0.1:1', waitForReadyMs: 200, connectTimeoutMs: 100 });
    try {
      assert.equal(backend.kind, 'redis');
      assert.equal(backend.healthy(), false);
      await assert.rejects(backend.cache.get('k'), (error: { code?: string }) => error.code === 'CACHE_UNAVAILABLE');
    } finally {
      await backend.close();
    }
  });
});
