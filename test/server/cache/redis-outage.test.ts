/**
 * Redis going away mid-run: on a redis-server this test starts, kills (by PID) and restarts
 * on the same port. The adapters must say they are unhealthy, fail fast with coded errors
 * (CachedQuery falls back to its loader), then recover on their own: healthy again, cache
 * serving, channels resubscribed.
 */
import assert from 'node:assert/strict';
import { isSyncError } from '../../../core/errors';
import { CachedQuery } from '../../../server/cache/cached-query';
import { RedisCache } from '../../../server/cache/redis-cache';
import { RedisPubSub } from '../../../server/cache/redis-pubsub';
import { RelayMetrics } from '../../../server/observability/metrics';
import { RedisServerProcess, waitFor } from '../../support/redis';

describe('Redis adapters when Redis stops and returns', function () {
  this.timeout(30_000);
  let server: RedisServerProcess;
  let cache: RedisCache;
  let pubsub: RedisPubSub;
  let peer: RedisPubSub;
  let metrics: RelayMetrics;

  before(async () => {
    server = await RedisServerProcess.start();
    const options = { url: server.url, maxReconnectDelayMs: 100, connectTimeoutMs: 500 };
    cache = new RedisCache({ ...options, keyPrefix: 'outage:' });
    pubsub = new RedisPubSub({ ...options, channelPrefix: 'outage:' });
    peer = new RedisPubSub({ ...options, channelPrefix: 'outage:' });
    metrics = new RelayMetrics();
    metrics.bindRedisHealth(() => cache.healthy() && pubsub.healthy());
    await waitFor(() => cache.healthy() && pubsub.healthy() && peer.healthy(), 'the adapters to connect');
  });

  after(async () => {
    await cache?.close();
    await pubsub?.close();
    await peer?.close();
    await server?.stop();
  });

  it('reports unhealthy, fails fast with codes, keeps serving through CachedQuery, and recovers', async () => {
    const counts = { hit: 0, miss: 0, error: 0 };
    const tasks = new CachedQuery<string[]>({
      cache, name: 'task-list', ttlSeconds: 60,
      stats: { hit: () => counts.hit++, miss: () => counts.miss++, error: () => counts.error++ },
    });
    let loads = 0;
    const load = async (): Promise<string[]> => { loads++; return ['task-1', `load-${loads}`]; };
    const received: string[] = [];
    await peer.subscribe('user:1', (message) => received.push(message));
    const healthEvents: boolean[] = [];
    pubsub.onHealthChange((healthy) => healthEvents.push(healthy));

    // Warm: one miss then a hit, and pub/sub delivering.
    assert.deepEqual(await tasks.get('user:1', load), ['task-1', 'load-1']);
    assert.deepEqual(await tasks.get('user:1', load), ['task-1', 'load-1']);
    assert.deepEqual(counts, { hit: 1, miss: 1, error: 0 });
    await pubsub.publish('user:1', 'before');
    await waitFor(() => received.length === 1, 'the message before the outage');
    assert.match(await metrics.render(), /^roo_sync_redis_up 1$/m);

    const pid = server.pid;
    await server.stop();
    assert.ok(pid !== undefined);
    await waitFor(() => !cache.healthy() && !pubsub.healthy() && !peer.healthy(), 'the adapters to notice Redis is gone');
    assert.match(await metrics.render(), /^roo_sync_redis_up 0$/m);

    const started = Date.now();
    await assert.rejects(cache.get('anything'), (error) => isSyncError(error, 'CACHE_UNAVAILABLE'));
    await assert.rejects(pubsub.publish('user:1', 'lost'), (error) => isSyncError(error, 'PUBSUB_UNAVAILABLE'));
    await assert.rejects(pubsub.subscribe('user:2', () => undefined), (error) => isSyncError(error, 'PUBSUB_UNAVAILABLE'));
    await assert.rejects(peer.subscribe('user:1', () => undefined), (error) => isSyncError(error, 'PUBSUB_UNAVAILABLE'));
    assert.deepEqual(await tasks.get('user:1', load), ['task-1', 'load-2']);
    await tasks.invalidate('user:1');
    assert.ok(Date.now() - started < 500, `failing took ${Date.now() - started} ms; it must not wait for Redis`);
    assert.equal(counts.error >= 2, true, `errors ${counts.error}`);
    assert.equal(counts.miss, 2);
    assert.equal(tasks.pendingInvalidations, 1);

    await server.start();
    await waitFor(() => cache.healthy() && pubsub.healthy() && peer.healthy(), 'the adapters to reconnect and resubscribe');
    assert.deepEqual(healthEvents, [false, true]);
    assert.match(await metrics.render(), /^roo_sync_redis_up 1$/m);

    // The channel subscribed before the outage works again without subscribing anew.
    await pubsub.publish('user:1', 'after');
    await waitFor(() => received.includes('after'), 'the message after the outage');
    assert.deepEqual(received, ['before', 'after']);

    // The deferred invalidation was replayed; the cache serves again (the restarted Redis is empty).
    assert.deepEqual(await tasks.get('user:1', load), ['task-1', 'load-3']);
    assert.equal(tasks.pendingInvalidations, 0);
    assert.deepEqual(await tasks.get('user:1', load), ['task-1', 'load-3']);
    assert.equal(counts.hit, 2);
    tasks.close();
  });

  it('reports healthy after a reconnect when every channel was left while Redis was down', async () => {
    const unsubscribe = await pubsub.subscribe('short-lived', () => undefined);
    await server.stop();
    await waitFor(() => !pubsub.healthy(), 'pub/sub to notice Redis is gone');
    await unsubscribe();
    await server.start();
    await waitFor(() => pubsub.healthy() && cache.healthy(), 'pub/sub to report healthy with no channels to restore');
    // `peer` is another client of the same Redis: it reconnects on its own schedule.
    await waitFor(() => peer.healthy(), 'the peer to reconnect');
    const received: string[] = [];
    await peer.subscribe('fresh', (message) => received.push(message));
    await pubsub.publish('fresh', 'works');
    await waitFor(() => received.length === 1, 'a message on a channel subscribed after recovery');
  });
});
